#!/usr/bin/env bash
# CIFAR10-LT (LIM / Popov et al.): give --data PATH of cifar-10-python.tar.gz or cifar-10-batches-py.
# Stages (all logic lives in `levytts image ...`; every stage is resumable):
#   0 prepare data   1 feature classifier   2 train (per α)   3 sampler grid (per α)
#   4 evaluate (per α)   5 report (markdown tables)
# Usage: recipes/cifar10lt/run.sh [--stage N] [--stop-stage N] [--quick] [--alphas "1.8 2.0"] [--diffusion lim|dlpm] [--data PATH] [-- hydra overrides]
# The stage logic is shared with the other image recipes: recipes/common/image_recipe.sh.
exp=cifar10lt
fixture_kind=cifar10
source "$(dirname "$0")/../common/image_recipe.sh"
