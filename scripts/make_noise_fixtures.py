#!/usr/bin/env python3
"""Parity fixtures for runtime noise estimation (RuntimeNoiseEstimator), made by a Python re-implementation
of the reference's mechanism (huanpengchu/QNCD, ldm/models/diffusion/plms.py: the reverse_state /
reverse_now flags of plms_sampling, the estimate of sample_reverse and the correction in p_sample_plms)
applied to DDIM generalized steps and DDPM ancestral steps instead of PLMS's multistep combination.

Kept from the reference, line by line in `Estimation.trajectory` below:
  - the step counter is len(step_list), i.e. n = i + 1, and a step estimates when
    (n - 2) % k == int(k // 2) with Python's modulo;
  - at an estimating step quant_noise_mean and quant_noise_std are reset to 0, the step is computed with
    the raw e_t, x_prev is re-noised with factor = a_t / a_prev and a fresh z,
    x_re = sqrt(factor) x_prev + sqrt(1 - factor) z, the model runs on (x_re, t),
    mean = torch.mean(e - z), std = torch.std(e - z) / 4 (which the reference then sets to 0), and the
    step is recomputed with e_t - mean; other steps use e_t - mean;
  - the state lives in the sampler object, so the last mean of one trajectory is subtracted in the first
    steps of the next (cases without reset).
Choices of qncd (documented in docs/QUANTIZATION.md): the recomputed step reuses the step's noise; with
the variance correction on, the noise coefficient is max(sigma - std/4, 0) instead of being zeroed;
optionally the state is reset per trajectory.

The noise model is a stub both sides compute exactly, eps(x, t) = 0.8 tanh(x) + 0.1 sin(t / 100) + bias,
and every random draw (step noise, re-noising z) is recorded so the Java side can be fed the same arrays.

    /usr/bin/python3 scripts/make_noise_fixtures.py qncd-models/src/test/resources/fixtures/noise

Writes estimation.npz (np.savez_compressed): betas (1000, float64), per case <case>_seq (timesteps), <case>_xT (trajectories,
N,C,H,W), <case>_noise (trajectories, steps, N,C,H,W; zeros where a step injects none),
<case>_z (estimates, N,C,H,W, in order), <case>_xs (trajectories, steps + 1, ...),
<case>_est (estimates, 4: trajectory, step index, mean, full std), <case>_params (k, eta, bias,
variance, reset, ddpm); and schedule_n<n>_k<k> (the estimating step indices of the reference's rule).
No reference code is needed: the mechanism is short and re-implemented here.
"""
import argparse
import os

import numpy as np
import torch

SHAPE = (2, 3, 8, 8)


def stub_model(bias):
    def f(x, t):
        return 0.8 * torch.tanh(x) + 0.1 * torch.sin(t.float() / 100).view(-1, 1, 1, 1) + bias
    return f


def alpha_bars(betas):
    """DDIM's compute_alpha convention: index t + 1 of cumprod(1 - [0, betas]), so a(-1) = 1."""
    b = torch.cat([torch.zeros(1), betas], dim=0)
    return (1 - b).cumprod(dim=0)


class Estimation:
    """The reference's state machine (PLMSSampler.quant_noise_mean/std, reverse_now) around one step rule."""

    def __init__(self, model, abar, k, eta, ddpm, variance, reset):
        self.model, self.abar, self.k, self.eta, self.ddpm = model, abar, k, eta, ddpm
        self.variance, self.reset = variance, reset
        self.quant_noise_mean = 0
        self.quant_noise_std = 0
        self.estimates = []

    def a(self, t):
        return self.abar[t + 1]

    def sigma(self, t, t_next):
        at, an = self.a(t), self.a(t_next)
        if self.ddpm:
            return (1 - at / an).sqrt() if t != 0 else torch.tensor(0.0)
        return self.eta * ((1 - at / an) * (1 - an) / (1 - at)).sqrt()

    def update(self, x, e_t, t, t_next, noise):
        """DDIM generalized step / DDPM ancestral step (fixedlarge), noise coefficient reduced by std."""
        at, an = self.a(t), self.a(t_next)
        coef = torch.clamp(self.sigma(t, t_next) - self.quant_noise_std, min=0)  # reference: sigma - std
        if self.ddpm:
            beta = 1 - at / an
            x0 = ((1 / at).sqrt() * x - (1 / at - 1).sqrt() * e_t).clamp(-1, 1)
            mean = ((an.sqrt() * beta) * x0 + ((1 - beta).sqrt() * (1 - an)) * x) / (1 - at)
            return mean + coef * noise if t != 0 else mean
        x0 = (x - e_t * (1 - at).sqrt()) / at.sqrt()
        c2 = ((1 - an) - self.sigma(t, t_next) ** 2).sqrt()
        return an.sqrt() * x0 + coef * noise + c2 * e_t

    def sample_reverse(self, x_prev, t, t_next, traj, index, zs):
        at, an = self.a(t), self.a(t_next)
        factor = at / an
        e = torch.randn_like(x_prev)
        zs.append(e.clone())
        x_re = factor.sqrt() * x_prev + (1 - factor).sqrt() * e
        e_t = self.model(x_re, torch.full((x_prev.shape[0],), t, dtype=torch.long))
        quant_noise = e_t - e
        self.quant_noise_mean = torch.mean(quant_noise)
        std = torch.std(quant_noise)
        self.quant_noise_std = std / 4 if self.variance else 0  # the reference: std / 4, then 0
        self.estimates.append([traj, index, float(self.quant_noise_mean), float(std)])

    def trajectory(self, x, seq, traj, zs):
        if self.reset:
            self.quant_noise_mean = 0
            self.quant_noise_std = 0
        seq_next = [-1] + list(seq[:-1])
        step_list = []
        xs, noises = [x.clone()], []
        for i, (t, t_next) in enumerate(zip(reversed(seq), reversed(seq_next))):
            step_list.append(t)
            reverse_now = False
            l_step = len(step_list)
            if (l_step - 2) % self.k == int(self.k // 2):
                reverse_now = True
                self.quant_noise_mean = 0
                self.quant_noise_std = 0
            noise = torch.randn_like(x) if float(self.sigma(t, t_next)) > 0 else torch.zeros_like(x)
            noises.append(noise.clone())
            e_t = self.model(x, torch.full((x.shape[0],), t, dtype=torch.long))
            if not reverse_now:
                e_t = e_t - self.quant_noise_mean
            x_prev = self.update(x, e_t, t, t_next, noise)
            if reverse_now:
                self.sample_reverse(x_prev, t, t_next, traj, i, zs)
                e_t = e_t - self.quant_noise_mean
                x_prev = self.update(x, e_t, t, t_next, noise)  # qncd: same step noise
            x = x_prev
            xs.append(x.clone())
        return torch.stack(xs), torch.stack(noises)


def schedule(n, k):
    """The estimating step indices of plms_sampling's rule, by running its counter."""
    out, step_list = [], []
    for i in range(n):
        step_list.append(i)
        if (len(step_list) - 2) % k == int(k // 2):
            out.append(i)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="qncd-models/src/test/resources/fixtures/noise")
    args = ap.parse_args()
    torch.manual_seed(11)
    betas64 = np.linspace(0.0001, 0.02, 1000, dtype=np.float64)
    abar = alpha_bars(torch.from_numpy(betas64).float())
    arrays = {"betas": betas64}
    cases = {
        # name: (steps, k, eta, ddpm, bias, variance, reset, trajectories)
        "ddim_k4": (20, 4, 0.0, False, 0.05, False, False, 2),
        "ddim_eta05_k2_reset_var": (10, 2, 0.5, False, -0.1, True, True, 2),
        "ddpm_k3_var": (10, 3, 0.0, True, 0.02, True, False, 2),
    }
    for name, (steps, k, eta, ddpm, bias, variance, reset, trajs) in cases.items():
        seq = list(range(0, 1000, 1000 // steps))
        est = Estimation(stub_model(bias), abar, k, eta, ddpm, variance, reset)
        zs, xts, xss, noises = [], [], [], []
        for traj in range(trajs):
            x_t = torch.randn(*SHAPE)
            xs, nz = est.trajectory(x_t, seq, traj, zs)
            xts.append(x_t)
            xss.append(xs)
            noises.append(nz)
        arrays[name + "_seq"] = np.array(seq, dtype=np.int64)
        arrays[name + "_xT"] = torch.stack(xts).numpy()
        arrays[name + "_noise"] = torch.stack(noises).numpy()
        arrays[name + "_z"] = torch.stack(zs).numpy()
        arrays[name + "_xs"] = torch.stack(xss).numpy()
        arrays[name + "_est"] = np.array(est.estimates, dtype=np.float64)
        arrays[name + "_params"] = np.array([k, eta, bias, variance, reset, ddpm], dtype=np.float64)
        print(name, "estimates (trajectory, step, mean, std):")
        for row in est.estimates:
            print("   ", row)
    for n, k in [(20, 10), (100, 10), (50, 4), (10, 3), (7, 2), (5, 1), (25, 5)]:
        arrays[f"schedule_n{n}_k{k}"] = np.array(schedule(n, k), dtype=np.int64)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "estimation.npz")
    np.savez_compressed(path, **arrays)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
