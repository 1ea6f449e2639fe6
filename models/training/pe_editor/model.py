"""The 3DPE editor network (paper Sec. 3.2, adapted to a 2-core CPU).

Sizes (B = batch):
  image      (B, 3, 256, 256)  aligned FFHQ-framed crop in [0, 1] (the encoders see it area-downsampled
                               to 128^2; the full-resolution image feeds the detail path)
  src_cam    (B, 25)           EG3D label of the source view (cam2world 16 + intrinsics 9)
  tgt_cam    (B, 25)           EG3D label of the view to render
  tokens     (B, K, D)         prompt tokens (K = 8, D = 64); zeros = "no edit" (reconstruction)
  norm       (B, P)            E_high's normalisation affine (scale, shift per channel), P = NORM_DIM
Outputs:
  rgb        (B, 3, 256, 256)  rendered + super-resolved portrait at tgt_cam with the source's detail
                               warped in, ~[0, 1]
  rgb128     (B, 3, 128, 128)  the render's super-resolution alone (no source detail)
  raw        (B, 3, 32, 32)    volume-rendered colour (first 3 feature channels)
  depth      (B, 1, 32, 32)    expected distance along the camera axis (world units)
  triplane   (B, 3, C, 64, 64) C = 16
Editor.view (what calls show, the exported graph) adds mesh_depth (B, 1, 32, 32), the tracked face
mesh's depth at tgt_cam (mesh_depth.py; 0 = uncovered), and returns the source-view edit re-projected
to tgt_cam (SourceLift) through that depth, the triplane's 16^2 depth filling where the mesh does
not cover.

Modules: ELow (structure), EHigh (appearance, norms driven by `norm`), CrossAttention (queries:
E_high features, keys/values: prompt tokens), TriplaneDecoder, TriplaneRenderer (grid_sample +
MLP + volume rendering at 32^2, 20 samples/ray), SuperRes (32^2 -> 128^2), DetailWarp (the
source image backward-warped into the target view through the rendered depth), DetailRefine
(128^2 render + the warped source's high frequencies -> 256^2), SourceLift (the source-view edit
backward-warped into a novel view), TextPromptProjection
(frozen MiniLM sentence embedding 384 -> K tokens), ImagePromptEncoder (reference image -> K tokens).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG = 256  # graph input/output resolution
ENC = 128  # the encoders' working resolution
HP_POOL = 8  # the detail path carries frequencies above IMG / HP_POOL = the 32^2 render's band
K_TOKENS = 8
D_TOKEN = 64
TEXT_DIM = 384
PLANE_C = 16
PLANE_RES = 64
RENDER_RES = 32
N_SAMPLES = 20
NEAR, FAR = 2.40, 3.30
BOX = 1.0  # triplane covers [-BOX/2, BOX/2]^3 in world units
FEAT = 16  # rendered feature channels (first 3 = colour)
EHIGH_CH = (24, 32, 64, 64)  # channels of E_high's normalised layers
NORM_DIM = 2 * sum(EHIGH_CH)
LIFT_DEPTH_RES = 16  # the render's depth behind the lift, outside the face mesh


def conv(cin, cout, k=3, s=1):
    return nn.Conv2d(cin, cout, k, s, k // 2)


class ELow(nn.Module):
    """Structure branch. image (B,3,128,128) -> (B,96,16,16) low-frequency features."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.AvgPool2d(2),  # 64^2: keep only low frequencies
            conv(3, 32, 3, 2), nn.LeakyReLU(0.2),  # 32^2
            conv(32, 64, 3, 2), nn.LeakyReLU(0.2),  # 16^2
            conv(64, 96), nn.LeakyReLU(0.2),
            conv(96, 96), nn.LeakyReLU(0.2),
        )

    def forward(self, x):
        return self.net(x * 2 - 1)


class StyleNorm(nn.Module):
    """Instance norm whose affine comes from outside: x (B,C,H,W), scale/shift (B,C) -> (B,C,H,W).
    y = norm(x) * (1 + scale) + shift, so zeros = plain normalisation."""

    def forward(self, x, scale, shift):
        mu = x.mean(dim=(2, 3), keepdim=True)
        var = ((x - mu) ** 2).mean(dim=(2, 3), keepdim=True)
        xn = (x - mu) / torch.sqrt(var + 1e-5)
        return xn * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class EHigh(nn.Module):
    """Appearance branch. image (B,3,128,128), norm (B,NORM_DIM) -> (B,64,32,32)."""

    def __init__(self):
        super().__init__()
        c = EHIGH_CH
        self.c1 = conv(3, c[0], 3, 2)  # 64^2
        self.c2 = conv(c[0], c[1], 3, 2)  # 32^2
        self.c3 = conv(c[1], c[2])
        self.c4 = conv(c[2], c[3])
        self.norm = StyleNorm()

    def split_norm(self, norm):
        out, i = [], 0
        for ch in EHIGH_CH:
            out.append((norm[:, i:i + ch], norm[:, i + ch:i + 2 * ch]))
            i += 2 * ch
        return out

    def forward(self, x, norm):
        p = self.split_norm(norm)
        h = x * 2 - 1
        for k, layer in enumerate((self.c1, self.c2, self.c3, self.c4)):
            h = F.leaky_relu(self.norm(layer(h), *p[k]), 0.2)
        return h


class CrossAttention(nn.Module):
    """feat (B,C,H,W) queries, tokens (B,K,D) keys/values -> (B,C,H,W) = feat + attn (residual).
    The output projection starts at zero, so a fresh layer is the identity."""

    def __init__(self, c=64, d=D_TOKEN, heads=4):
        super().__init__()
        self.h, self.dh = heads, c // heads
        self.q = nn.Linear(c, c)
        self.k = nn.Linear(d, c)
        self.v = nn.Linear(d, c)
        self.o = nn.Linear(c, c)
        nn.init.zeros_(self.o.weight)
        nn.init.zeros_(self.o.bias)

    def forward(self, feat, tokens):
        B, C, H, W = feat.shape
        x = feat.flatten(2).transpose(1, 2)  # (B,HW,C)
        mu = x.mean(-1, keepdim=True)
        xn = (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + 1e-5)
        q = self.q(xn).reshape(B, H * W, self.h, self.dh).transpose(1, 2)  # (B,h,HW,dh)
        k = self.k(tokens).reshape(B, -1, self.h, self.dh).transpose(1, 2)  # (B,h,K,dh)
        v = self.v(tokens).reshape(B, -1, self.h, self.dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(self.dh), dim=-1)
        y = (a @ v).transpose(1, 2).reshape(B, H * W, C)
        return feat + self.o(y).transpose(1, 2).reshape(B, C, H, W)


class TriplaneDecoder(nn.Module):
    """low (B,96,16,16), high (B,64,32,32), src_cam (B,25) -> triplane (B,3,PLANE_C,64,64)."""

    def __init__(self):
        super().__init__()
        self.cam = nn.Sequential(nn.Linear(12, 64), nn.LeakyReLU(0.2), nn.Linear(64, 96))
        self.f1 = conv(96 + 64, 96)
        self.f2 = conv(96, 64)
        self.up = conv(64, 48)  # at 64^2
        self.out = conv(48, 3 * PLANE_C)

    def forward(self, low, high, src_cam):
        cam = self.cam(src_cam[:, :12])[:, :, None, None]
        low = F.interpolate(low + cam, scale_factor=2.0, mode="bilinear", align_corners=False)
        h = F.leaky_relu(self.f1(torch.cat([low, high], 1)), 0.2)
        h = F.leaky_relu(self.f2(h), 0.2)
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        h = F.leaky_relu(self.up(h), 0.2)
        t = self.out(h)
        return t.reshape(t.shape[0], 3, PLANE_C, PLANE_RES, PLANE_RES)


def camera_rays(cam, res=RENDER_RES):
    """cam (B,25) -> origins (B,1,3), directions (B,res*res,3) with unit camera-z component,
    so that a ray parameter t is the distance along the camera axis (the teacher's depth)."""
    B = cam.shape[0]
    m = cam[:, :16].reshape(B, 4, 4)
    K = cam[:, 16:].reshape(B, 3, 3)
    rot, org = m[:, :3, :3], m[:, :3, 3]
    s = (torch.arange(res, dtype=cam.dtype, device=cam.device) + 0.5) / res
    v, u = torch.meshgrid(s, s, indexing="ij")
    u = u.reshape(1, -1)
    v = v.reshape(1, -1)
    x = (u - K[:, 0, 2:3]) / K[:, 0, 0:1]
    y = (v - K[:, 1, 2:3]) / K[:, 1, 1:2]
    d_cam = torch.stack([x, y, torch.ones_like(x)], -1)  # (B,N,3)
    d = d_cam @ rot.transpose(1, 2)
    return org[:, None, :], d


class TriplaneRenderer(nn.Module):
    """triplane (B,3,C,64,64), cam (B,25) -> feat (B,FEAT,32,32), depth (B,1,32,32).
    EG3D-style: planes xy, xz, zy sampled by grid_sample, summed, decoded by a 2-layer MLP to
    density + features, alpha-composited along rays (exclusive transmittance via CumSum)."""

    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(PLANE_C, 32), nn.Softplus(), nn.Linear(32, 1 + FEAT))
        t = torch.linspace(NEAR, FAR, N_SAMPLES)
        self.register_buffer("t", t, persistent=False)
        self.delta = (FAR - NEAR) / (N_SAMPLES - 1)

    def _features(self, planes, cam, res):
        """-> plane features at the ray samples (B, res^2, S, C)"""
        B = planes.shape[0]
        o, d = camera_rays(cam, res)
        N = d.shape[1]
        pts = o[:, :, None, :] + d[:, :, None, :] * self.t[None, None, :, None]  # (B,N,S,3)
        p = (pts * (2.0 / BOX)).reshape(B, 1, N * N_SAMPLES, 3)
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        f = 0
        for i, g in enumerate((torch.stack([x, y], -1), torch.stack([x, z], -1), torch.stack([z, y], -1))):
            f = f + F.grid_sample(planes[:, i], g, mode="bilinear", padding_mode="zeros", align_corners=False)
        return f.reshape(B, PLANE_C, N, N_SAMPLES).permute(0, 2, 3, 1)  # (B,N,S,C)

    def _weights(self, sigma):
        sd = sigma * self.delta
        trans = torch.exp(-(torch.cumsum(sd, -1) - sd))
        return trans * (1 - torch.exp(-sd))  # (B,N,S)

    def forward(self, planes, cam):
        B = planes.shape[0]
        out = self.mlp(self._features(planes, cam, RENDER_RES))
        sigma = F.softplus(out[..., 0] - 1.0)  # (B,N,S)
        feat = out[..., 1:]
        w = self._weights(sigma)
        acc = w.sum(-1, keepdim=True)
        col = (w[..., None] * feat).sum(2)  # (B,N,FEAT)
        depth = (w * self.t).sum(-1, keepdim=True) + (1 - acc) * FAR
        col = col.transpose(1, 2).reshape(B, FEAT, RENDER_RES, RENDER_RES)
        depth = depth.transpose(1, 2).reshape(B, 1, RENDER_RES, RENDER_RES)
        return col, depth

    def depth(self, planes, cam, res):
        """triplane, cam -> depth (B,1,res,res) alone: the density head only (a novel view's depth
        at 16^2 costs a quarter of a 32^2 render)"""
        B = planes.shape[0]
        h = self.mlp[1](self.mlp[0](self._features(planes, cam, res)))
        sigma = F.softplus(F.linear(h, self.mlp[2].weight[:1], self.mlp[2].bias[:1])[..., 0] - 1.0)
        w = self._weights(sigma)
        depth = (w * self.t).sum(-1, keepdim=True) + (1 - w.sum(-1, keepdim=True)) * FAR
        return depth.transpose(1, 2).reshape(B, 1, res, res)


class SuperRes(nn.Module):
    """feat (B,FEAT,32,32) -> rgb (B,3,128,128) (residual over the upsampled raw colour)."""

    def __init__(self):
        super().__init__()
        self.a = conv(FEAT, 48)
        self.b = conv(48, 32)  # 64^2
        self.c = conv(32, 24)  # 128^2
        self.d = conv(24, 3)

    def forward(self, feat):
        h = F.leaky_relu(self.a(feat), 0.2)
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        h = F.leaky_relu(self.b(h), 0.2)
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        h = F.leaky_relu(self.c(h), 0.2)
        base = F.interpolate(feat[:, :3], scale_factor=4.0, mode="bilinear", align_corners=False)
        return base + self.d(h)


def high_pass(x, pool=None):
    """x (B,C,H,W) -> x minus its box-blurred self: the detail above the 32^2 render's band
    (pool = H / 32, i.e. HP_POOL at IMG; other sizes keep the same band relative to the face)."""
    pool = pool or max(1, x.shape[-1] * HP_POOL // IMG)
    blur = F.interpolate(F.avg_pool2d(x, pool), scale_factor=float(pool), mode="bilinear", align_corners=False)
    return x - blur


class DetailWarp(nn.Module):
    """Backward warp of the source image into the target view through the rendered depth.
    image (B,3,H,W) at src_cam, depth (B,1,32,32) at tgt_cam (distance along the camera axis),
    src_cam/tgt_cam (B,25) -> warped (B,3,H,W), valid (B,1,H,W) (1 where the point projects inside
    the source image). At the source view it is the identity whatever the depth (a pixel's own ray
    projects back onto itself), so source-view detail survives exactly; at novel views it is the
    paper's 3D prior doing a mesh-lift-like re-projection of the input's fine detail."""

    def forward(self, image, depth, src_cam, tgt_cam):
        grid = source_grid(depth, src_cam, tgt_cam, image.shape[-1])
        warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        valid = ((grid.abs() < 1).float().prod(-1))[:, None]
        return warped, valid


def source_grid(depth, src_cam, tgt_cam, H):
    """depth (B,1,h,w) at tgt_cam -> grid (B,H,H,2): where each target pixel's surface point lands
    in the source image (grid_sample coordinates)"""
    B = depth.shape[0]
    d = F.interpolate(depth, size=(H, H), mode="bilinear", align_corners=False).reshape(B, H * H, 1)
    o, dirs = camera_rays(tgt_cam, H)
    pts = o + dirs * d  # (B,HW,3) world points
    m = src_cam[:, :16].reshape(B, 4, 4)
    K = src_cam[:, 16:].reshape(B, 3, 3)
    pc = (pts - m[:, None, :3, 3]) @ m[:, :3, :3]  # world -> source camera: R^T (p - o)
    z = pc[..., 2].clamp(min=1e-3)
    u = K[:, 0:1, 0] * pc[..., 0] / z + K[:, 0:1, 2]
    v = K[:, 1:2, 1] * pc[..., 1] / z + K[:, 1:2, 2]
    return torch.stack([u * 2 - 1, v * 2 - 1], -1).reshape(B, H, H, 2)


class SourceLift(nn.Module):
    """The novel view: the source-view edit re-projected into the target view, as the 3D teacher
    lifts its 2D edit. src_rgb (B,3,H,H) at src_cam, depth (B,1,h,w) at tgt_cam -> rgb (B,3,H,H).
    Points that land outside the source image (background at the crop's border) take a blurred
    continuation of its edge (the edge of its 16x16 average), blended in over EDGE_PX pixels: clamping
    to the sharp edge drew streaks there, mirroring drew a ghost of the face, the source pixel in place
    a ghost ear. At the source view it is the identity whatever the depth.

    Why not the render at the target view, as the paper: with 13 training people, the 32^2 render
    loses the person's identity across views (consistency 0.975 vs the teacher's 0.981); the
    re-projected edit keeps it (0.984), measured by scripts/diag_warp_depth.py."""

    EDGE_PX = 6.0  # the blend's width, in output pixels
    GRID = 64  # the warp is computed at GRID^2 and upsampled: the depth is 32^2, so the warp is smooth
    # anyway, and projecting every output pixel took a third of the lift's time (at 256^2:
    # mean |difference| 0.001, at most 0.1 along silhouettes)

    def forward(self, src_rgb, depth, src_cam, tgt_cam):
        H = src_rgb.shape[-1]
        g = source_grid(depth, src_cam, tgt_cam, self.GRID)  # (B,G,G,2)
        # 1 inside the source crop, falling to 0 over EDGE_PX beyond its border
        inside = ((1 - g.abs()) * (H / (2 * self.EDGE_PX)) + 1).clamp(0, 1).prod(-1)  # (B,G,G)
        # upsample the displacement, not the grid: it is 0 at the source view, so the identity stays
        # exact up to the crop's border (bilinear upsampling clamps there)
        off = torch.cat([(g - pixel_grid(self.GRID, g)).permute(0, 3, 1, 2), inside[:, None]], 1)
        up = F.interpolate(off, size=(H, H), mode="bilinear", align_corners=False)  # (B,3,H,H)
        grid = up[:, :2].permute(0, 2, 3, 1) + pixel_grid(H, g)
        blur = F.interpolate(F.avg_pool2d(src_rgb, H // 16), size=(H, H), mode="bilinear", align_corners=False)
        both = F.grid_sample(torch.cat([src_rgb, blur], 1), grid, mode="bilinear", padding_mode="border",
                             align_corners=False)
        inside = up[:, 2:]
        return both[:, :3] * inside + both[:, 3:] * (1 - inside)


def pixel_grid(n, like):
    """(1,n,n,2): the grid_sample coordinates of an n^2 image's own pixel centres (x, y)"""
    s = (torch.arange(n, dtype=like.dtype, device=like.device) + 0.5) * (2.0 / n) - 1
    y, x = torch.meshgrid(s, s, indexing="ij")
    return torch.stack([x, y], -1)[None]


def merge_depth(mesh_depth, depth):
    """mesh_depth (B,1,h,w): the face mesh's depth at the target view, 0 where no triangle covers;
    depth (B,1,h',w') the render's -> (B,1,h,w): the mesh where it covers, the render elsewhere"""
    d = F.interpolate(depth, size=mesh_depth.shape[-2:], mode="bilinear", align_corners=False)
    return torch.where(mesh_depth > 0, mesh_depth, d)


class DetailRefine(nn.Module):
    """rgb128 (B,3,128,128), detail (B,3,256,256) = high_pass(warped) * valid, valid (B,1,256,256)
    -> rgb (B,3,256,256) = up(rgb128) + gate * detail + residual. The gate (init 0.5) lets the model
    drop detail where the warp is wrong (occlusions, background)."""

    def __init__(self):
        super().__init__()
        self.a = conv(7, 16)
        self.gate = conv(16, 1)
        self.res = conv(16, 3)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)
        nn.init.zeros_(self.res.weight)
        nn.init.zeros_(self.res.bias)

    def forward(self, rgb128, detail, valid):
        up = F.interpolate(rgb128, size=detail.shape[-2:], mode="bilinear", align_corners=False)
        h = F.leaky_relu(self.a(torch.cat([up, detail, valid], 1)), 0.2)
        return up + torch.sigmoid(self.gate(h)) * detail + self.res(h)


class TextPromptProjection(nn.Module):
    """Frozen MiniLM sentence embedding (B,384) -> prompt tokens (B,K,D)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(TEXT_DIM, 256), nn.LeakyReLU(0.2), nn.Linear(256, K_TOKENS * D_TOKEN))

    def forward(self, e):
        return self.net(e).reshape(-1, K_TOKENS, D_TOKEN)


class ImagePromptEncoder(nn.Module):
    """Reference image (B,3,128,128) in [0,1] -> prompt tokens (B,K,D): a small CNN, then
    per-channel mean/std (style statistics) -> MLP."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(
            conv(3, 24, 3, 2), nn.LeakyReLU(0.2),
            conv(24, 48, 3, 2), nn.LeakyReLU(0.2),
            conv(48, 64, 3, 2), nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Linear(3 * 2 + 24 * 2 + 64 * 2, 256), nn.LeakyReLU(0.2),
                                  nn.Linear(256, K_TOKENS * D_TOKEN))

    def forward(self, ref):
        x = ref * 2 - 1
        stats = [torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)]
        h1 = self.cnn[1](self.cnn[0](x))
        stats.append(torch.cat([h1.mean((2, 3)), h1.std((2, 3))], 1))
        h3 = self.cnn[5](self.cnn[4](self.cnn[3](self.cnn[2](h1))))
        stats.append(torch.cat([h3.mean((2, 3)), h3.std((2, 3))], 1))
        return self.head(torch.cat(stats, 1)).reshape(-1, K_TOKENS, D_TOKEN)


class Editor(nn.Module):
    """The whole editor. forward(image, src_cam, tgt_cam, tokens, norm) -> dict(rgb, raw, depth,
    triplane). `default_norm` (NORM_DIM,) is the stage-1 norm affine, a trained parameter; the
    exported graph takes `norm` as an input (an adapted style = tokens + norm tensors)."""

    def __init__(self):
        super().__init__()
        self.e_low = ELow()
        self.warp = DetailWarp()
        self.refine = DetailRefine()
        self.lift = SourceLift()
        self.e_high = EHigh()
        self.xattn = CrossAttention()
        self.decoder = TriplaneDecoder()
        self.renderer = TriplaneRenderer()
        self.sr = SuperRes()
        self.text_proj = TextPromptProjection()
        self.image_prompt = ImagePromptEncoder()
        self.default_norm = nn.Parameter(torch.zeros(NORM_DIM))

    def encode(self, image, src_cam, tokens, norm=None):
        """image (B,3,H,W) any H = W >= ENC -> triplane (B,3,C,64,64)"""
        if image.shape[-1] != ENC:
            image = F.avg_pool2d(image, image.shape[-1] // ENC)
        if norm is None:
            norm = self.default_norm[None].expand(image.shape[0], -1)
        low = self.e_low(image)
        high = self.xattn(self.e_high(image, norm), tokens)
        return self.decoder(low, high, src_cam)

    def render(self, planes, cam, image=None, src_cam=None):
        """-> rgb, raw (B,3,32,32), depth (B,1,32,32). rgb is (B,3,256,256) with the source image's
        detail warped in when `image` (B,3,256,256) and `src_cam` are given, else the 128^2 render."""
        feat, depth = self.renderer(planes, cam)
        rgb = self.sr(feat)
        if image is not None:
            warped, valid = self.warp(image, depth, src_cam, cam)
            rgb = self.refine(rgb, high_pass(warped) * valid, valid)
        return rgb, feat[:, :3], depth

    def forward(self, image, src_cam, tgt_cam, tokens, norm=None):
        planes = self.encode(image, src_cam, tokens, norm)
        feat, depth = self.renderer(planes, tgt_cam)
        rgb128 = self.sr(feat)
        warped, valid = self.warp(image, depth, src_cam, tgt_cam)
        rgb = self.refine(rgb128, high_pass(warped) * valid, valid)
        return {"rgb": rgb, "rgb128": rgb128, "raw": feat[:, :3], "depth": depth, "triplane": planes}


    def finish_source(self, image, feat):
        """image (B,3,256,256), feat (B,16,32,32) rendered at the source camera -> rgb (B,3,256,256)
        in [0,1], the edit at the source view: render(planes, src_cam, image, src_cam) without the
        detail warp, which is the identity at the source view (it cost half the finishing time);
        equal to it up to float rounding (~2e-5)."""
        valid = torch.ones_like(image[:, :1])
        return self.refine(self.sr(feat), high_pass(image), valid).clamp(0, 1)

    def lift_view(self, planes, src_rgb, src_cam, tgt_cam, mesh_depth):
        """The source-view edit src_rgb re-projected to tgt_cam (SourceLift) through the mesh's depth
        where it covers the face and the render's (16^2) elsewhere -> rgb, depth (B,1,32,32) used"""
        depth = merge_depth(mesh_depth, self.renderer.depth(planes, tgt_cam, LIFT_DEPTH_RES))
        return self.lift(src_rgb, depth, src_cam, tgt_cam), depth

    def view(self, image, src_cam, tgt_cam, tokens, norm, mesh_depth):
        """What a call shows: the edit at the source view, re-projected to tgt_cam (lift_view).
        mesh_depth (B,1,32,32), zeros = the render's depth only -> rgb (B,3,256,256) in [0,1],
        depth (B,1,32,32) the depth used. At tgt_cam == src_cam, rgb = the source-view edit."""
        planes = self.encode(image, src_cam, tokens, norm)
        src_rgb = self.finish_source(image, self.renderer(planes, src_cam)[0])
        return self.lift_view(planes, src_rgb, src_cam, tgt_cam, mesh_depth)


class ExportEditor(nn.Module):
    """The ONNX graph: (image, src_cam, tgt_cam, tokens, norm, mesh_depth) -> (rgb in [0,1], depth),
    Editor.view."""

    def __init__(self, editor: Editor):
        super().__init__()
        self.m = editor

    def forward(self, image, src_cam, tgt_cam, tokens, norm, mesh_depth):
        return self.m.view(image, src_cam, tgt_cam, tokens, norm, mesh_depth)


def null_tokens(b=1):
    return torch.zeros(b, K_TOKENS, D_TOKEN)
