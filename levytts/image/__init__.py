"""Image branch: CIFAR-10 / CIFAR10-LT / Fashion-MNIST-LT data, the DDPM U-Net, Lightning training with
the shared α-stable process (:mod:`levytts.levy`), the Popov sampler grid and image metrics.

Submodules are imported on use (``levytts.image.data``, ``.unet``, ``.module``, ``.sampling``,
``.metrics``, ``.classifier``, ``.cli``) so that importing the package does no work.
"""
