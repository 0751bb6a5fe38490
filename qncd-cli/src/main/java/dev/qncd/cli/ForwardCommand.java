package dev.qncd.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.Npz;
import dev.qncd.models.ddim.DdimConfig;
import dev.qncd.models.ddim.DdimUNet;
import dev.qncd.models.ldm.LdmUNet;
import dev.qncd.models.ldm.LdmUNetConfig;
import dev.qncd.models.nn.LayerFactory;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code qncd forward}: one UNet evaluation on given inputs, to check a checkpoint against Python numbers. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Evaluate the UNet once: eps = model(x, t) for arrays x (float32 NCHW) and t (int64) of an",
            ".npz, written as 'eps' to another .npz. Compare it with your Python model's output.",
            "Example: qncd forward --config configs/cifar10.yml --ckpt ema_cifar10.ckpt --inputs in.npz --out eps.npz"})
public final class ForwardCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ForwardCommand.class);

    @Mixin CommonOptions common;
    @Mixin ModelOptions model;
    @Mixin DeviceOption device;

    @Option(names = "--inputs", required = true, paramLabel = "NPZ",
            description = "Arrays x (N,C,H,W float32) and t (N); with a latent-diffusion / Stable Diffusion config"
                    + " (model.target) also context (N,L,context_dim float32) and/or y (N int64 class labels).")
    Path inputs;

    @Option(names = "--out", required = true, paramLabel = "NPZ", description = "Output .npz with 'eps' (written atomically).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (LdmUNetConfig.isLdmConfig(model.config)) {
            return callLdm();
        }
        DdimConfig cfg = DdimConfig.load(model.config);
        try (NDManager m = NDManager.newBaseManager(device.device())) {
            Map<String, NDArray> in = Npz.read(inputs, m);
            for (String k : new String[] {"x", "t"}) {
                if (!in.containsKey(k)) {
                    throw new QncdException(inputs + " has no array '" + k + "' (it has " + in.keySet()
                            + "): save x (float32 N,C,H,W) and t (int64 N) with np.savez");
                }
            }
            try (DdimUNet unet = DdimUNet.load(cfg, Checkpoints.read(model.ckpt, m, model.ckptKey),
                    LayerFactory.fullPrecision(), m, model.ckpt.toString())) {
                long t0 = System.nanoTime();
                NDArray x = in.get("x").toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                NDArray eps = unet.forward(x, in.get("t"));
                LOG.info("forward of {} in {} ms", x.getShape(), (System.nanoTime() - t0) / 1_000_000);
                Map<String, NDArray> result = new LinkedHashMap<>();
                result.put("eps", eps);
                Npz.write(out, result, false);
                LOG.info("wrote eps {} to {}", eps.getShape(), out);
            }
        }
        return ExitCodes.OK;
    }

    /** The latent-diffusion / Stable Diffusion UNet: eps = model(x, t, context, y). */
    private Integer callLdm() throws Exception {
        LdmUNetConfig cfg = LdmUNetConfig.load(model.config);
        try (NDManager m = NDManager.newBaseManager(device.device())) {
            Map<String, NDArray> in = Npz.read(inputs, m);
            require(in, "x", "x (float32 N,C,H,W)");
            require(in, "t", "t (int64 N)");
            if (cfg.takesContext()) {
                require(in, "context", "context (float32 N,L," + cfg.contextDim() + "): this model cross-attends to it");
            } else if (in.containsKey("context")) {
                LOG.warn("{} has a 'context' array, but this model has no cross-attention: ignored", inputs);
            }
            if (cfg.classConditional()) {
                require(in, "y", "y (int64 N class labels): this model is class-conditional");
            } else if (in.containsKey("y")) {
                LOG.warn("{} has a 'y' array, but this model is not class-conditional: ignored", inputs);
            }
            try (LdmUNet unet = LdmUNet.load(cfg, Checkpoints.read(model.ckpt, m, model.ckptKey),
                    LayerFactory.fullPrecision(), m, model.ckpt.toString())) {
                long t0 = System.nanoTime();
                NDArray x = in.get("x").toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                NDArray eps = unet.forward(x, in.get("t"), cfg.takesContext() ? in.get("context") : null,
                        cfg.classConditional() ? in.get("y") : null);
                LOG.info("LDM UNet forward of {} in {} ms", x.getShape(), (System.nanoTime() - t0) / 1_000_000);
                Map<String, NDArray> result = new LinkedHashMap<>();
                result.put("eps", eps);
                Npz.write(out, result, false);
                LOG.info("wrote eps {} to {}", eps.getShape(), out);
            }
        }
        return ExitCodes.OK;
    }

    private void require(Map<String, NDArray> in, String key, String what) {
        if (!in.containsKey(key)) {
            throw new QncdException(inputs + " has no array '" + key + "' (it has " + in.keySet() + "): save " + what
                    + " with np.savez");
        }
    }
}
