#!/usr/bin/env bash
# Fashion-MNIST-LT (CIFAR10-LT class counts on the Debian dataset-fashion-mnist IDX files; --data IDX_FOLDER, default /usr/share/datasets/fashion-mnist): LIM α=1.8 vs the Gaussian baseline α=2, Popov sampler grid, classifier-feature FD / coverage.
# Stages (all logic lives in `levytts image ...`; every stage is resumable):
#   0 prepare data   1 feature classifier   2 train (per α)   3 sampler grid (per α)
#   4 evaluate (per α)   5 report (markdown tables)
# Usage: recipes/fashion_mnist_lt/run.sh [--stage N] [--stop-stage N] [--quick] [--alphas "1.8 2.0"] [--diffusion lim|dlpm] [--data PATH] [-- hydra overrides]
# The stage logic is shared with the other image recipes: recipes/common/image_recipe.sh.
exp=fashion_mnist_lt
fixture_kind=
source "$(dirname "$0")/../common/image_recipe.sh"
