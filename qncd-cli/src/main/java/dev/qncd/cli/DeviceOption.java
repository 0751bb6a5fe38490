package dev.qncd.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.qncd.core.QncdException;
import picocli.CommandLine.Option;

/** The {@code --device cpu|gpu} option, shared by every command that computes. */
public final class DeviceOption {
    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu",
            description = "cpu or gpu (gpu needs the cuda build, see docs/CUDA.md; default ${DEFAULT-VALUE}).")
    String device;

    /** @return the DJL device */
    public Device device() {
        return switch (device.toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> Device.cpu();
            case "gpu", "cuda" -> {
                if (Engine.getInstance().getGpuCount() == 0) {
                    throw new QncdException("--device gpu: no GPU is visible to PyTorch; this build is CPU-only"
                            + " unless built with the cuda profile (docs/CUDA.md), or use --device cpu");
                }
                yield Device.gpu();
            }
            default -> throw new QncdException("--device must be cpu or gpu, got '" + device + "'");
        };
    }
}
