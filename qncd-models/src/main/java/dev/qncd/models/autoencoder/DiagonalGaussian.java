package dev.qncd.models.autoencoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.qncd.core.QncdException;

/**
 * The posterior of the KL autoencoder ({@code DiagonalGaussianDistribution} of
 * {@code ldm/modules/distributions/distributions.py}): the moments (N, 2·C, h, w) split along the
 * channels into mean and log-variance, the log-variance clamped to [−30, 20], std = exp(logvar / 2);
 * a sample is mean + std·ε with ε ~ N(0, I), the mode is the mean.
 */
public final class DiagonalGaussian implements AutoCloseable {
    private final NDArray mean;
    private final NDArray logvar;
    private final NDArray std;

    /**
     * @param moments (N, 2·C, h, w), e.g. {@code quant_conv(encoder(x))}; the arrays made here live in its
     *     manager until {@link #close()}
     */
    public DiagonalGaussian(NDArray moments) {
        if (moments.getShape().dimension() < 2 || moments.getShape().get(1) % 2 != 0) {
            throw new QncdException("the moments of a diagonal Gaussian need an even channel count, got "
                    + moments.getShape());
        }
        NDList halves = moments.split(2, 1);
        this.mean = halves.get(0);
        this.logvar = halves.get(1).clip(-30.0f, 20.0f);
        halves.get(1).close();
        this.std = logvar.mul(0.5f).exp();
    }

    /** @return the mean (N, C, h, w) */
    public NDArray mean() {
        return mean;
    }

    /** @return the clamped log-variance (N, C, h, w) */
    public NDArray logvar() {
        return logvar;
    }

    /** @return exp(logvar / 2) */
    public NDArray std() {
        return std;
    }

    /** @return the mode (the mean) */
    public NDArray mode() {
        return mean;
    }

    /**
     * @param noise ε of the mean's shape, e.g. standard normal noise
     * @return mean + std·ε, in the noise's manager
     */
    public NDArray sample(NDArray noise) {
        if (!noise.getShape().equals(mean.getShape())) {
            throw new QncdException("posterior noise must have the shape " + mean.getShape() + ", got " + noise.getShape());
        }
        NDArray scaled = noise.mul(std);
        return scaled.addi(mean);
    }

    /**
     * @return mean + std·ε with ε drawn from the engine's standard normal generator (seed it with
     *     {@code Engine.getInstance().setRandomSeed}), in the mean's manager
     */
    public NDArray sample() {
        NDArray noise = mean.getManager().randomNormal(mean.getShape(), mean.getDataType());
        return noise.muli(std).addi(mean);
    }

    @Override
    public void close() {
        mean.close();
        logvar.close();
        std.close();
    }
}
