"""TIN's temporal interlace: vidlab's gather-based ``tin_shift`` against a literal loop over
mmcv's kernel definition (mmcv's compiled op is CUDA-only and absent from the reference env;
the parity fixtures ``tin_*`` were made with that same loop standing in for it)."""

import torch

from vidlab.models.tin import TemporalInterlace, linear_sampler, tin_shift


def tin_shift_loop(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """mmcv's ``tin_shift_forward_cuda_kernel`` as it reads: start from zeros; for each sample
    ``n``, channel ``c`` and input frame ``i``, with ``s = shift[n, c // (C // G)]``, write
    ``out[n, i + s, c] = x[n, i, c]`` when ``0 <= i + s < T``."""
    n, t, c, _ = x.shape
    group_channel = c // shift.shape[1]
    out = torch.zeros_like(x)
    for b in range(n):
        for j in range(c):
            s = int(shift[b, j // group_channel])
            for i in range(t):
                if 0 <= i + s < t:
                    out[b, i + s, j] = x[b, i, j]
    return out


def test_tin_shift_matches_the_kernel_definition():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 12, 5)
    shift = torch.randint(-9, 10, (3, 4), dtype=torch.int32)  # includes shifts past the clip
    shift[0] = torch.tensor([0, 1, -1, 7])
    assert torch.equal(tin_shift(x, shift), tin_shift_loop(x, shift))


def test_tin_shift_gradient_is_the_opposite_shift():
    torch.manual_seed(1)
    x = torch.randn(2, 6, 8, 3, requires_grad=True)
    shift = torch.tensor([[2, -1], [0, -4]], dtype=torch.int32)
    grad_out = torch.randn(2, 6, 8, 3)
    tin_shift(x, shift).backward(grad_out)
    assert torch.equal(x.grad, tin_shift_loop(grad_out, -shift))


def _linear_sampler_loop(data, offset):
    n, t, c, h, w = data.shape
    flat = data.reshape(n, t, c, h * w)
    low = torch.floor(offset).int()
    out0, out1 = tin_shift_loop(flat, low), tin_shift_loop(flat, low + 1)
    w0 = (1 - (offset - low.float())).repeat_interleave(c // offset.shape[1], 1)
    w0 = w0[:, None, :, None]
    return (w0 * out0 + (1 - w0) * out1).reshape(n, t, c, h, w)


def test_linear_sampler_interpolates_two_integer_shifts():
    torch.manual_seed(2)
    data = torch.randn(2, 8, 16, 3, 3)
    offset = torch.tensor([[0.25, -1.5, 1.75, -0.25], [3.0, -2.2, 0.0, 0.6]])
    torch.testing.assert_close(linear_sampler(data, offset), _linear_sampler_loop(data, offset))


def test_interlace_keeps_the_unshifted_channels_and_compiles():
    torch.manual_seed(3)
    tim = TemporalInterlace(32, num_segments=4, shift_div=4).eval()
    x = torch.randn(8, 32, 5, 5)
    with torch.no_grad():
        y = tim(x)
        assert y.shape == x.shape
        assert torch.equal(y[:, 8:], x[:, 8:])
        compiled = torch.compile(tim, backend="eager", fullgraph=True)
        assert torch.allclose(compiled(x), y)
