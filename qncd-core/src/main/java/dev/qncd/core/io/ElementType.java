package dev.qncd.core.io;

import ai.djl.ndarray.types.DataType;
import dev.qncd.core.FormatException;
import java.util.Locale;

/**
 * Element types that the checkpoint and array formats exchange, with their names in each format.
 *
 * <p>One table for safetensors dtype strings ({@code F32}), numpy descriptors ({@code <f4}) and
 * PyTorch storage classes ({@code FloatStorage}), so the readers and writers agree.
 */
public enum ElementType {
    /** 64-bit IEEE float. */
    F64(DataType.FLOAT64, 8, "F64", "f8", "DoubleStorage"),
    /** 32-bit IEEE float. */
    F32(DataType.FLOAT32, 4, "F32", "f4", "FloatStorage"),
    /** 16-bit IEEE float. */
    F16(DataType.FLOAT16, 2, "F16", "f2", "HalfStorage"),
    /** bfloat16 (no numpy name). */
    BF16(DataType.BFLOAT16, 2, "BF16", null, "BFloat16Storage"),
    /** Signed 64-bit integer. */
    I64(DataType.INT64, 8, "I64", "i8", "LongStorage"),
    /** Signed 32-bit integer. */
    I32(DataType.INT32, 4, "I32", "i4", "IntStorage"),
    /** Signed 16-bit integer. */
    I16(DataType.INT16, 2, "I16", "i2", "ShortStorage"),
    /** Signed 8-bit integer. */
    I8(DataType.INT8, 1, "I8", "i1", "CharStorage"),
    /** Unsigned 8-bit integer. */
    U8(DataType.UINT8, 1, "U8", "u1", "ByteStorage"),
    /** Boolean, one byte per element. */
    BOOL(DataType.BOOLEAN, 1, "BOOL", "b1", "BoolStorage");

    private final DataType dataType;
    private final int bytes;
    private final String safetensorsName;
    private final String numpyKind;
    private final String torchStorage;

    ElementType(DataType dataType, int bytes, String safetensorsName, String numpyKind, String torchStorage) {
        this.dataType = dataType;
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
        this.numpyKind = numpyKind;
        this.torchStorage = torchStorage;
    }

    /** @return the DJL data type */
    public DataType dataType() {
        return dataType;
    }

    /** @return bytes per element */
    public int bytes() {
        return bytes;
    }

    /** @return the safetensors dtype string, e.g. {@code F32} */
    public String safetensorsName() {
        return safetensorsName;
    }

    /**
     * @return the little-endian numpy descriptor, e.g. {@code <f4} ({@code |u1} for one-byte types)
     * @throws FormatException for bfloat16, which numpy cannot store
     */
    public String numpyDescr() {
        if (numpyKind == null) {
            throw new FormatException("numpy has no " + name() + " type: convert the array to float32 first");
        }
        return (bytes == 1 ? "|" : "<") + numpyKind;
    }

    /** @return the PyTorch legacy storage class name, e.g. {@code FloatStorage} */
    public String torchStorage() {
        return torchStorage;
    }

    /**
     * @param type a DJL data type
     * @return the matching element type
     * @throws FormatException when the type cannot be stored
     */
    public static ElementType of(DataType type) {
        for (ElementType e : values()) {
            if (e.dataType == type) {
                return e;
            }
        }
        throw new FormatException("cannot store arrays of type " + type + ": convert to float32 first");
    }

    /**
     * @param name a safetensors dtype such as {@code F16}
     * @return the element type
     * @throws FormatException for an unknown or unsupported name
     */
    public static ElementType fromSafetensors(String name) {
        for (ElementType e : values()) {
            if (e.safetensorsName.equals(name)) {
                return e;
            }
        }
        throw new FormatException("unsupported safetensors dtype '" + name
                + "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    }

    /**
     * @param descr a numpy descriptor such as {@code <f4}, {@code |u1} or {@code =i8}
     * @return the element type
     * @throws FormatException for big-endian or unsupported descriptors
     */
    public static ElementType fromNumpy(String descr) {
        if (descr.length() < 3) {
            throw new FormatException("unsupported numpy dtype '" + descr + "'");
        }
        char order = descr.charAt(0);
        String kind = descr.substring(1).toLowerCase(Locale.ROOT);
        if (order == '>' && !kind.endsWith("1")) {
            throw new FormatException("big-endian numpy dtype '" + descr
                    + "' is not supported: save the array with dtype '<" + kind + "'");
        }
        if (kind.equals("?1") || kind.equals("b1")) {
            return BOOL;
        }
        for (ElementType e : values()) {
            if (kind.equals(e.numpyKind)) {
                return e;
            }
        }
        throw new FormatException("unsupported numpy dtype '" + descr
                + "' (supported: <f8, <f4, <f2, <i8, <i4, <i2, |i1, |u1, |b1)");
    }

    /**
     * @param storage a PyTorch storage class name such as {@code HalfStorage}
     * @return the element type
     * @throws FormatException for an unsupported storage type
     */
    public static ElementType fromTorchStorage(String storage) {
        for (ElementType e : values()) {
            if (e.torchStorage.equals(storage)) {
                return e;
            }
        }
        throw new FormatException("unsupported PyTorch storage type '" + storage + "'");
    }
}
