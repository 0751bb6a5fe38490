#!/usr/bin/env python3
"""Writes the metric fixtures of qncd-eval with numpy + scipy, following OpenAI's ADM evaluator
(guided-diffusion evaluations/evaluator.py) formula by formula (re-implemented here, nothing imported).

Regenerate (Debian: apt-get install python3-numpy python3-scipy):
    /usr/bin/python3 scripts/make_eval_fixtures.py qncd-eval/src/test/resources/fixtures

Files (all .npz, float64 unless noted):
  fid_<case>.npz   features a, b (float32, N x D; well and rankdef only), mu1, sigma1, mu2, sigma2 (np.mean / np.cov of the
                   features), fid (ADM's frechet_distance: scipy.linalg.sqrtm of sigma1.dot(sigma2), with
                   the eps=1e-6 offset retry when the result is not finite), offset_used (0/1)
  is.npz           logits (float32, N x C), split_size, score (ADM's compute_inception_score on softmax)
  pr.npz           ref, sample (float32), k, precision, recall, radii_ref, radii_sample
                   (ADM's ManifoldEstimator on float32 squared distances, k=3)
"""
import os
import sys
import warnings

import numpy as np
from scipy import linalg


def adm_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    offset_used = 0
    if not np.isfinite(covmean).all():
        offset_used = 1
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component %g" % np.max(np.abs(covmean.imag)))
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean), offset_used


def fid_case(out, name, rng, n1, n2, d, correlated, keep_features=False):
    if correlated:
        # Anisotropic covariances (condition number ~1e4 for the full-rank case).
        basis = rng.standard_normal((d, d))
        scales = np.logspace(0, -2, d)
        a = (rng.standard_normal((n1, d)) * scales) @ basis + 0.3
        b = (rng.standard_normal((n2, d)) * scales * 1.1) @ basis.T - 0.1
    else:
        a = rng.standard_normal((n1, d)) + 0.1
        b = 1.2 * rng.standard_normal((n2, d))
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    mu1, mu2 = np.mean(a, axis=0), np.mean(b, axis=0)  # float32 mean as ADM (activations are float32)
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mu1, mu2 = mu1.astype(np.float64), mu2.astype(np.float64)
    # The metric itself from float64 statistics, so the fixture isolates the square root.
    mu1 = np.mean(a.astype(np.float64), axis=0)
    mu2 = np.mean(b.astype(np.float64), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fid, offset_used = adm_frechet_distance(mu1, sigma1, mu2, sigma2)
    feats = dict(a=a, b=b) if keep_features else {}
    np.savez(os.path.join(out, "fid_%s.npz" % name), **feats, mu1=mu1, sigma1=sigma1, mu2=mu2,
             sigma2=sigma2, fid=np.float64(fid), offset_used=np.int32(offset_used))
    print("fid_%s: n1=%d n2=%d d=%d fid=%.12g offset_used=%d" % (name, n1, n2, d, fid, offset_used))


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def is_case(out, rng):
    n, c, split = 230, 40, 50  # 5 splits, the last one short (30), as ADM's range(0, N, split)
    logits = (3.0 * rng.standard_normal((n, c))).astype(np.float32)
    preds = softmax(logits.astype(np.float64))
    scores = []
    for i in range(0, len(preds), split):
        part = preds[i:i + split]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    score = float(np.mean(scores))
    np.savez(os.path.join(out, "is.npz"), logits=logits, split_size=np.int32(split), score=np.float64(score))
    print("is: %.12g" % score)


def sq_dists(u, v):
    nu = np.sum(np.square(u), 1).reshape(-1, 1)
    nv = np.sum(np.square(v), 1).reshape(1, -1)
    return np.maximum(nu - 2 * (u @ v.T) + nv, 0.0).astype(np.float32)


def pr_case(out, rng):
    d, k = 64, 3
    ref = rng.standard_normal((300, d)).astype(np.float32)
    sample = (0.8 * rng.standard_normal((260, d)) + 0.15).astype(np.float32)
    # float64 distances (rounded to float32), so that the Java float64 path matches exactly
    r64, s64 = ref.astype(np.float64), sample.astype(np.float64)
    radii_ref = np.partition(sq_dists(r64, r64), k, axis=1)[:, k]
    radii_sample = np.partition(sq_dists(s64, s64), k, axis=1)[:, k]
    d_rs = sq_dists(r64, s64)  # [ref, sample]
    # precision: samples inside the reference manifold; recall: references inside the sample manifold
    precision = float(np.mean(np.any(d_rs <= radii_ref[:, None], axis=0)))
    recall = float(np.mean(np.any(d_rs <= radii_sample[None, :], axis=1)))
    np.savez(os.path.join(out, "pr.npz"), ref=ref, sample=sample, k=np.int32(k), precision=np.float64(precision),
             recall=np.float64(recall), radii_ref=radii_ref, radii_sample=radii_sample)
    print("pr: precision=%.6f recall=%.6f" % (precision, recall))


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240329)
    fid_case(out, "well", rng, 500, 400, 64, False, keep_features=True)
    fid_case(out, "aniso", rng, 3000, 2500, 128, True)
    fid_case(out, "rankdef", rng, 120, 100, 192, False, keep_features=True)  # both singular (rank 119 / 99)
    fid_case(out, "rankdef_one", rng, 90, 600, 128, True)  # only sigma1 singular
    is_case(out, rng)
    pr_case(out, rng)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "qncd-eval/src/test/resources/fixtures")
