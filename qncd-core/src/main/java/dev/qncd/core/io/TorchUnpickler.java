package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

/**
 * A whitelisting unpickler for {@code torch.save} pickles that never runs code.
 *
 * <p>Every opcode that resolves a Python global ({@code GLOBAL}, {@code STACK_GLOBAL}) is intercepted
 * in {@link #dispatch}: only the globals a tensor checkpoint needs map to our own constructors; any
 * other global throws {@link UnsafeCheckpointException} before anything is built. Opcodes that build
 * objects without a global we checked ({@code INST}, {@code OBJ}, the {@code EXT*} extension registry)
 * are refused, and {@code BUILD} (which would call {@code __setstate__} by reflection) only applies to
 * our ordered dicts. razorvine's own table of default constructors (datetime, decimal, copy_reg...) is
 * therefore unreachable. {@code REDUCE}/{@code NEWOBJ} can only call what is on the stack, which can
 * only be one of our constructors.
 *
 * <p>Tensors come out lazily, as {@link TensorRef}s over {@link StorageRef}s: the storage bytes are read
 * after unpickling, one storage at a time, by {@link TorchCheckpointReader}.
 */
final class TorchUnpickler extends Unpickler {
    /** A typed storage named by a persistent id; the bytes are read later. */
    record StorageRef(String key, ElementType type, long numel) {}

    /** A tensor over a storage: offset, shape and strides in elements. */
    record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride) {}

    /** A torch dtype object (only used by {@code _rebuild_tensor_v3}). */
    record DType(ElementType type) {}

    /** A storage class object such as {@code torch.FloatStorage}. */
    record StorageType(ElementType type) {}

    /**
     * A Python OrderedDict. Its BUILD state (the {@code _metadata} attribute torch attaches to state
     * dicts) is irrelevant to the tensors and dropped.
     */
    static final class OrderedDict extends LinkedHashMap<Object, Object> {
        private static final long serialVersionUID = 1L;
    }

    private static final Set<String> TENSOR_REBUILDERS = Set.of(
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state");

    private static final Map<String, ElementType> DTYPES = Map.ofEntries(
            Map.entry("float64", ElementType.F64), Map.entry("float32", ElementType.F32),
            Map.entry("float16", ElementType.F16), Map.entry("bfloat16", ElementType.BF16),
            Map.entry("int64", ElementType.I64), Map.entry("int32", ElementType.I32),
            Map.entry("int16", ElementType.I16), Map.entry("int8", ElementType.I8),
            Map.entry("uint8", ElementType.U8), Map.entry("bool", ElementType.BOOL));

    private final String file;
    private final Function<Object[], StorageRef> storages;

    /**
     * @param file the checkpoint, for messages
     * @param storages turns a persistent id tuple into a storage reference (format-specific)
     */
    TorchUnpickler(String file, Function<Object[], StorageRef> storages) {
        this.file = file;
        this.storages = storages;
    }

    /**
     * Unpickles one object.
     *
     * @param in the pickle stream (read up to its STOP opcode)
     * @return the object tree: maps, lists, Object[] tuples, strings, numbers, {@link TensorRef}s
     */
    Object loadObject(InputStream in) throws IOException {
        try {
            return load(in);
        } catch (PickleException | ClassCastException | IndexOutOfBoundsException | IllegalStateException e) {
            throw new FormatException(file + " is not a valid torch.save pickle (" + e.getMessage()
                    + "): is it corrupt, or not a PyTorch checkpoint?", e);
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("premature end")) {
                throw new FormatException(file + " is truncated: the pickle ends early", e);
            }
            throw e;
        }
    }

    @Override
    protected Object dispatch(short key) throws PickleException, IOException {
        if (key == Opcodes.GLOBAL) {
            String module = PickleUtils.readline(input);
            String name = PickleUtils.readline(input);
            stack.add(resolve(module, name));
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.STACK_GLOBAL) {
            Object name = stack.pop();
            Object module = stack.pop();
            stack.add(resolve(String.valueOf(module), String.valueOf(name)));
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.INST || key == Opcodes.OBJ || key == Opcodes.EXT1 || key == Opcodes.EXT2
                || key == Opcodes.EXT4) {
            throw new UnsafeCheckpointException(file, "<pickle opcode " + (char) key + " (object construction "
                    + "outside the whitelist)>");
        }
        // Python dicts keep insertion order (razorvine's use HashMap): build them ordered.
        if (key == Opcodes.EMPTY_DICT) {
            stack.add(new LinkedHashMap<Object, Object>());
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.DICT) {
            List<Object> items = stack.pop_all_since_marker();
            Map<Object, Object> dict = new LinkedHashMap<>();
            putPairs(dict, items);
            stack.add(dict);
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.SETITEMS) {
            List<Object> items = stack.pop_all_since_marker();
            putPairs(target(), items);
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.SETITEM) {
            Object value = stack.pop();
            Object k = stack.pop();
            target().put(k, value);
            return NO_RETURN_VALUE;
        }
        if (key == Opcodes.BUILD) {
            Object state = stack.pop();
            Object target = stack.peek();
            if (!(target instanceof OrderedDict)) {
                throw new UnsafeCheckpointException(file, "<BUILD (__setstate__) on "
                        + (target == null ? "None" : target.getClass().getSimpleName()) + ">");
            }
            return NO_RETURN_VALUE;
        }
        return super.dispatch(key);
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> target() {
        Object t = stack.peek();
        if (!(t instanceof Map)) {
            throw new FormatException(file + ": corrupt pickle (SETITEM on a " + (t == null ? "None" : t.getClass().getSimpleName()) + ")");
        }
        return (Map<Object, Object>) t;
    }

    private void putPairs(Map<Object, Object> dict, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw new FormatException(file + ": corrupt pickle (odd number of dict items)");
        }
        for (int i = 0; i < items.size(); i += 2) {
            dict.put(items.get(i), items.get(i + 1));
        }
    }

    @Override
    protected Object persistentLoad(Object pid) {
        if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])) {
            throw new FormatException(file + ": unexpected persistent id " + describe(pid)
                    + " (expected ('storage', type, key, location, numel))");
        }
        return storages.apply(t);
    }

    /** Maps a whitelisted global to our constructor or marker object; refuses everything else. */
    private Object resolve(String module, String name) {
        String global = module + "." + name;
        if (TENSOR_REBUILDERS.contains(global)) {
            return (IObjectConstructor) args -> rebuild(name, args);
        }
        if (global.equals("collections.OrderedDict")) {
            return (IObjectConstructor) args -> new OrderedDict();
        }
        if (module.equals("torch") && name.endsWith("Storage") && !name.equals("UntypedStorage")) {
            return new StorageType(ElementType.fromTorchStorage(name));
        }
        if (module.equals("torch") && DTYPES.containsKey(name)) {
            return new DType(DTYPES.get(name));
        }
        throw new UnsafeCheckpointException(file, global);
    }

    private Object rebuild(String function, Object[] args) {
        if (function.startsWith("_rebuild_parameter")) {
            // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the tensor itself.
            return args[0];
        }
        // _rebuild_tensor(storage, offset, size, stride)
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
        // _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
        if (args.length < 4 || !(args[0] instanceof StorageRef storage)) {
            throw new FormatException(file + ": malformed tensor record (" + function + " with "
                    + args.length + " arguments)");
        }
        if (function.equals("_rebuild_tensor_v3") && args.length > 6 && args[6] instanceof DType d
                && d.type() != storage.type()) {
            throw new FormatException(file + ": a " + d.type() + " tensor over a " + storage.type()
                    + " storage is not supported: re-save the checkpoint with a recent torch.save");
        }
        long offset = ((Number) args[1]).longValue();
        long[] shape = longs(args[2]);
        long[] stride = longs(args[3]);
        if (shape.length != stride.length) {
            throw new FormatException(file + ": tensor record with " + shape.length + " sizes but " + stride.length
                    + " strides");
        }
        return new TensorRef(storage, offset, shape, stride);
    }

    private long[] longs(Object tuple) {
        Object[] t = tuple instanceof Object[] a ? a : tuple instanceof List<?> l ? l.toArray() : null;
        if (t == null) {
            throw new FormatException(file + ": malformed tensor size/stride " + describe(tuple));
        }
        long[] out = new long[t.length];
        for (int i = 0; i < t.length; i++) {
            out[i] = ((Number) t[i]).longValue();
        }
        return out;
    }

    static String describe(Object o) {
        if (o instanceof Object[] a) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < a.length; i++) {
                sb.append(i == 0 ? "" : ", ").append(describe(a[i]));
            }
            return sb.append(')').toString();
        }
        return String.valueOf(o);
    }
}
