"""PaniniModel's training step computes what the plain step computes, faster.

The plain step: the generator's losses through a D forward of the output and one backward; then the D
step with its own D forward of the output (detached) and of the target. PaniniModel scores the output once
(see ``PaniniModel._optimize_g``); weights, EMA and losses must match the plain step to float rounding.
"""
import pytest
import torch

from helpers import panini_model, panini_tiny_options
from test_panini_model import fixed_batch


def plain_step(model):
    """One iteration as the textbook two-forward GAN step, with the model's own nets, losses and optimisers."""
    model.net_d.requires_grad_(False)
    model.optimizer_g.zero_grad(set_to_none=True)
    output = model.net_g(model.lq).float()
    losses = {
        'l_g_pix': model.cri_pix(output, model.gt),
        'l_g_percep': model.cri_perceptual(output, model.gt).float(),
        'l_g_gan': model.cri_gan(model.net_d(output).float(), True, is_disc=False),
    }
    sum(losses.values()).backward()
    model.optimizer_g.step()
    model.update_ema(model.ema_decay)
    model.net_d.requires_grad_(True)
    model.optimizer_d.zero_grad(set_to_none=True)
    fake_pred = model.net_d(output.detach()).float()
    real_pred = model.net_d(model.gt).float()
    losses['l_d'] = model.cri_gan(real_pred, True, is_disc=True) + model.cri_gan(fake_pred, False, is_disc=True)
    losses['l_d'].backward()
    model.optimizer_d.step()
    return {name: value.item() for name, value in losses.items()}


@pytest.mark.parametrize('channels_last', [False, True])
def test_step_equals_the_plain_two_forward_step(tmp_path, channels_last):
    opt = panini_tiny_options()
    opt['train'].update(r1_reg_weight=0, channels_last=channels_last)
    ours, plain = panini_model(opt, tmp_path / 'ours'), panini_model(opt, tmp_path / 'plain')
    batch = fixed_batch(opt)
    for current_iter in (1, 2, 3):
        ours.feed_data(batch)
        plain.feed_data(batch)
        ours.optimize_parameters(current_iter)
        expected = plain_step(plain)
        for name, value in expected.items():
            assert ours.log_dict[name] == pytest.approx(value, rel=1e-5, abs=1e-6), (current_iter, name)
    for a, b in ((ours.net_g, plain.net_g), (ours.net_d, plain.net_d), (ours.net_g_ema, plain.net_g_ema)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=2e-6, msg=lambda m, name=name: f'{name}: {m}')
    moved = ours.net_d.state_dict()['final_linear.1.weight'] - panini_model(opt, tmp_path / 'new').net_d.state_dict()[
        'final_linear.1.weight']
    assert moved.abs().max() > 1e-5  # D was trained (the comparison is not between untouched weights)
