package dev.qncd.core.io;

import java.util.HashMap;
import java.util.Map;

/**
 * The complete whitelist of Python globals a checkpoint may reference. The unpickler resolves a global
 * only to one of these constants and never calls anything else; each constant's behaviour is
 * implemented in Java by {@link TorchUnpickler}.
 *
 * <p>Deliberately absent: {@code builtins.set}, {@code builtins.slice}, {@code builtins.getattr} and
 * every razorvine default constructor (datetime, decimal, {@code copy_reg._reconstructor},
 * {@code builtins.bytearray}, ...). No state dict written by {@code torch.save} needs them (tensors,
 * OrderedDicts, tuples, lists, numbers and strings are all that a state dict pickles), so a
 * checkpoint referencing them is refused rather than half-understood.
 */
enum TorchGlobal {
    /** {@code collections.OrderedDict}: every {@code nn.Module.state_dict()}; built as a LinkedHashMap. */
    ORDERED_DICT("collections", "OrderedDict", null),
    /** {@code torch._utils._rebuild_tensor_v2}: how every tensor pickles since PyTorch 1.0. */
    REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2", null),
    /** {@code torch._utils._rebuild_tensor}: the pre-1.0 spelling. */
    REBUILD_TENSOR("torch._utils", "_rebuild_tensor", null),
    /** {@code torch._utils._rebuild_parameter}: an {@code nn.Parameter}; read as its data. */
    REBUILD_PARAMETER("torch._utils", "_rebuild_parameter", null),
    /** {@code torch._utils._rebuild_parameter_with_state}: a Parameter with Python attributes; data only. */
    REBUILD_PARAMETER_WITH_STATE("torch._utils", "_rebuild_parameter_with_state", null),
    /**
     * {@code torch._tensor._rebuild_from_type_v2(func, type, args, state)}: a tensor with Python state;
     * allowed only when {@code func} is a rebuild function above and {@code type} is Tensor/Parameter.
     */
    REBUILD_FROM_TYPE_V2("torch._tensor", "_rebuild_from_type_v2", null),
    /** {@code torch.Tensor}: only as the type argument of {@code _rebuild_from_type_v2}. */
    TENSOR_CLASS("torch", "Tensor", null),
    /** {@code torch.nn.parameter.Parameter}: only as the type argument of {@code _rebuild_from_type_v2}. */
    PARAMETER_CLASS("torch.nn.parameter", "Parameter", null),
    /** {@code torch.Size}: a tuple of ints (shapes stored next to weights); built as a List. */
    SIZE("torch", "Size", null),
    /** Storage classes: only inside persistent ids, naming the element type. */
    DOUBLE_STORAGE("torch", "DoubleStorage", ElementType.F64),
    /** {@code torch.FloatStorage}. */
    FLOAT_STORAGE("torch", "FloatStorage", ElementType.F32),
    /** {@code torch.HalfStorage}. */
    HALF_STORAGE("torch", "HalfStorage", ElementType.F16),
    /** {@code torch.BFloat16Storage}. */
    BFLOAT16_STORAGE("torch", "BFloat16Storage", ElementType.BF16),
    /** {@code torch.LongStorage}. */
    LONG_STORAGE("torch", "LongStorage", ElementType.I64),
    /** {@code torch.IntStorage}. */
    INT_STORAGE("torch", "IntStorage", ElementType.I32),
    /** {@code torch.ShortStorage}. */
    SHORT_STORAGE("torch", "ShortStorage", ElementType.I16),
    /** {@code torch.CharStorage} (int8). */
    CHAR_STORAGE("torch", "CharStorage", ElementType.I8),
    /** {@code torch.ByteStorage} (uint8). */
    BYTE_STORAGE("torch", "ByteStorage", ElementType.U8),
    /** {@code torch.BoolStorage}. */
    BOOL_STORAGE("torch", "BoolStorage", ElementType.BOOL),
    /** {@code torch.UntypedStorage}: raw bytes, written when a bare storage is saved (PyTorch 2). */
    UNTYPED_STORAGE("torch", "UntypedStorage", ElementType.U8);

    private static final Map<String, TorchGlobal> BY_NAME = new HashMap<>();

    static {
        for (TorchGlobal g : values()) {
            BY_NAME.put(g.qualifiedName(), g);
        }
    }

    private final String module;
    private final String name;
    private final ElementType storageType;

    TorchGlobal(String module, String name, ElementType storageType) {
        this.module = module;
        this.name = name;
        this.storageType = storageType;
    }

    /** @return {@code module.name} */
    String qualifiedName() {
        return module + "." + name;
    }

    /** @return the element type for a storage class, or null for anything else */
    ElementType storageType() {
        return storageType;
    }

    /**
     * @param module a Python module such as {@code torch._utils}
     * @param name a name in it
     * @return the whitelisted global, or null when it is not allowed
     */
    static TorchGlobal lookup(String module, String name) {
        return BY_NAME.get(module + "." + name);
    }
}
