"""Degradation representation encoder (DRE) of Panini-Net."""
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY

DRE_CHANNELS = ((3, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1))


@ARCH_REGISTRY.register()
class DRE(nn.Module):
    """Six conv-BN-LeakyReLU(0.1) layers and global average pooling.

    Args:
        pool_size (int): inputs are average-pooled to this size first (256).
        with_head (bool): add the MoCo projection head
            Linear(256, 256)-LeakyReLU(0.1)-Linear(256, head_dim), used only by
            the UDRL pre-training.
        head_dim (int): output size of the head.

    Input: (B, 3, H, W), any H, W. Output: v_DR (B, 256); ``project`` maps it
    through the head to (B, head_dim).
    """

    def __init__(self, pool_size=256, with_head=False, head_dim=256):
        super().__init__()
        self.pool_size = pool_size
        layers = []
        for in_ch, out_ch, stride in DRE_CHANNELS:
            layers += [nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.BatchNorm2d(out_ch), nn.LeakyReLU(0.1, True)]
        self.body = nn.Sequential(*layers)
        self.out_dim = DRE_CHANNELS[-1][1]
        self.head = None
        if with_head:
            self.head = nn.Sequential(
                nn.Linear(self.out_dim, self.out_dim), nn.LeakyReLU(0.1, True), nn.Linear(self.out_dim, head_dim))

    def forward(self, x):
        if x.shape[-2:] != (self.pool_size, self.pool_size):
            x = F.adaptive_avg_pool2d(x, self.pool_size)
        return self.body(x).mean(dim=(2, 3))

    def project(self, v_dr):
        """Apply the MoCo head: (B, 256) -> (B, head_dim)."""
        if self.head is None:
            raise RuntimeError('DRE was built with with_head=False; it has no projection head.')
        return self.head(v_dr)
