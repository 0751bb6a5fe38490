package dev.qncd.core.io;

import dev.qncd.core.FormatException;

/**
 * A pickle (inside a {@code torch.save} file) that names a Python global qncd does not allow. Loading
 * it in Python could run arbitrary code; qncd refuses it before constructing anything.
 */
public final class UnsafeCheckpointException extends FormatException {
    private static final long serialVersionUID = 1L;
    private final String global;

    /**
     * @param file the checkpoint
     * @param global the refused global, {@code module.name}
     */
    public UnsafeCheckpointException(String file, String global) {
        super("refusing to load " + file + ": it references the Python global '" + global + "', which could run"
                + " code; qncd only loads tensors (torch._utils._rebuild_tensor_v2, _rebuild_parameter,"
                + " collections.OrderedDict, torch storages). Re-save the checkpoint as a plain state dict"
                + " (torch.save(model.state_dict(), path)) or as safetensors");
        this.global = global;
    }

    /** @return the refused global, {@code module.name} */
    public String global() {
        return global;
    }
}
