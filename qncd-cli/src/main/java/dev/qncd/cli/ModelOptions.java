package dev.qncd.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Config + checkpoint options shared by the DDIM commands. */
public final class ModelOptions {
    @Option(names = "--config", required = true, paramLabel = "YAML",
            description = "Model config, e.g. configs/cifar10.yml.")
    Path config;

    @Option(names = "--ckpt", required = true, paramLabel = "FILE",
            description = "Checkpoint with the original keys: torch.save (.ckpt/.pth) or safetensors.")
    Path ckpt;

    @Option(names = {"--ckpt_key", "--ckpt-key"}, paramLabel = "PATH",
            description = "torch.save only: dotted path of the state dict in the file (default: found automatically).")
    String ckptKey;
}
