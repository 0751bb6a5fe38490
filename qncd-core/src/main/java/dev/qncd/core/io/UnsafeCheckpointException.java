package dev.qncd.core.io;

import dev.qncd.core.FormatException;

/**
 * A checkpoint that references Python code other than the few tensor-rebuilding functions qncd
 * allows. Loading it with Python's {@code torch.load} could run arbitrary code; qncd refuses it
 * before anything is built.
 */
public class UnsafeCheckpointException extends FormatException {
    private static final long serialVersionUID = 1L;

    /** The refused global, e.g. {@code os.system}. */
    private final String global;

    /**
     * @param file the checkpoint, for the message
     * @param global the refused Python global as {@code module.name}
     */
    public UnsafeCheckpointException(String file, String global) {
        super("refusing to load " + file + ": it references the Python global '" + global
                + "', which could run code; qncd only loads tensors (torch._utils._rebuild_tensor_v2, "
                + "OrderedDict, storages). Re-save the checkpoint as a plain state_dict "
                + "(torch.save(model.state_dict(), path)) or as safetensors");
        this.global = global;
    }

    /** @return the refused Python global as {@code module.name} */
    public String global() {
        return global;
    }
}
