package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

/**
 * A pickle reader that never runs code: it builds only dicts, lists, tuples, numbers, strings and
 * {@link TensorRef}s.
 *
 * <p>razorvine's {@link Unpickler} resolves globals through a process-wide table of constructors
 * (datetime, decimal, {@code copy_reg._reconstructor}, {@code builtins.bytearray}, ...) and falls back
 * to a generic class-dict constructor for any other name; its global-related methods are package
 * private. This subclass therefore takes over, in {@link #dispatch}, every opcode that resolves or
 * calls a global or mutates an object: GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ, NEWOBJ_EX,
 * BUILD and EXT1/2/4. Globals resolve only to {@link TorchGlobal} constants (anything else throws
 * {@link UnsafeCheckpointException}); calls are implemented here in Java. The static constructor table
 * is never consulted nor modified. It also builds dicts as {@link LinkedHashMap}s in pickle order
 * (EMPTY_DICT, DICT, SETITEMS) and checks length fields against the bytes left before allocating.
 *
 * <p>Not thread-safe; one instance per pickle.
 */
final class TorchUnpickler extends Unpickler {

    private final String file;
    private final CountingInputStream in;
    private final Map<String, StorageRef> storages;
    private final List<TensorRef> tensors;

    /**
     * @param file the checkpoint, for messages
     * @param in the pickle bytes (the stream is read exactly up to the pickle's STOP opcode)
     * @param storages receives the storages named by persistent ids, by key (shared between the
     *     pickles of one file)
     * @param tensors receives every tensor built, in order
     */
    TorchUnpickler(String file, CountingInputStream in, Map<String, StorageRef> storages, List<TensorRef> tensors) {
        this.file = file;
        this.in = in;
        this.storages = storages;
        this.tensors = tensors;
    }

    /**
     * Reads one pickle.
     *
     * @param what which pickle, for messages (e.g. {@code data.pkl})
     * @return the unpickled object: Map, List, Object[] (tuples), String, Number, Boolean, byte[],
     *     Set, null, TensorRef or StorageRef.View
     * @throws FormatException when the pickle is corrupt, truncated or unsafe
     */
    Object read(String what) {
        try {
            return load(in);
        } catch (QncdException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            String problem = in.remaining() == 0 ? "truncated (the file ends inside the pickle " + what + ")"
                    : "corrupt pickle " + what + " near byte " + in.position() + ": " + detail;
            throw new FormatException(file + ": " + problem
                    + "; re-download or re-save the checkpoint with torch.save", e);
        } catch (StackOverflowError e) {
            throw new FormatException(file + ": the pickle " + what + " nests objects too deeply to read; "
                    + "re-save the checkpoint as a plain state_dict", null);
        }
    }

    @Override
    protected Object dispatch(short key) throws IOException {
        switch (key) {
            case Opcodes.GLOBAL -> {
                String module = readLine();
                String name = readLine();
                stack.add(resolve(module, name));
            }
            case Opcodes.STACK_GLOBAL -> {
                Object name = stack.pop();
                Object module = stack.pop();
                if (!(module instanceof String) || !(name instanceof String)) {
                    throw corrupt("STACK_GLOBAL with non-string operands");
                }
                stack.add(resolve((String) module, (String) name));
            }
            case Opcodes.INST -> {
                String module = readLine();
                String name = readLine();
                TorchGlobal callable = resolve(module, name);
                stack.add(call(callable, stack.pop_all_since_marker().toArray()));
            }
            case Opcodes.OBJ -> {
                List<Object> items = stack.pop_all_since_marker();
                if (items.isEmpty()) {
                    throw corrupt("OBJ without a class");
                }
                stack.add(call(items.get(0), items.subList(1, items.size()).toArray()));
            }
            case Opcodes.REDUCE, Opcodes.NEWOBJ -> {
                Object args = stack.pop();
                Object callable = stack.pop();
                stack.add(call(callable, tuple(args)));
            }
            case Opcodes.NEWOBJ_EX -> {
                Object kwargs = stack.pop();
                Object args = stack.pop();
                Object callable = stack.pop();
                if (!(kwargs instanceof Map<?, ?> m) || !m.isEmpty()) {
                    throw corrupt("NEWOBJ_EX with keyword arguments");
                }
                stack.add(call(callable, tuple(args)));
            }
            case Opcodes.BUILD -> {
                stack.pop(); // the state
                Object target = stack.peek();
                // OrderedDict state is {'_metadata': {module: {'version': n}}}; tensor state is Python
                // attributes. Neither matters for the values; nothing else may be built.
                if (!(target instanceof Map) && !(target instanceof TensorRef)) {
                    throw corrupt("BUILD on " + describe(target));
                }
            }
            case Opcodes.EXT1, Opcodes.EXT2, Opcodes.EXT4 ->
                // extension codes name globals through Python's copyreg registry: refuse them
                throw new UnsafeCheckpointException(file, "copyreg extension code " + key);
            case Opcodes.EMPTY_DICT -> stack.add(new LinkedHashMap<>());
            case Opcodes.DICT -> stack.add(putAll(new LinkedHashMap<>(), stack.pop_all_since_marker()));
            case Opcodes.SETITEMS -> {
                List<Object> items = stack.pop_all_since_marker();
                if (!(stack.peek() instanceof Map<?, ?>)) {
                    throw corrupt("SETITEMS on " + describe(stack.peek()));
                }
                @SuppressWarnings("unchecked")
                Map<Object, Object> dict = (Map<Object, Object>) stack.peek();
                putAll(dict, items);
            }
            case Opcodes.BINUNICODE -> stack.add(new String(bytes(lengthField(4)), StandardCharsets.UTF_8));
            case Opcodes.BINUNICODE8 -> stack.add(new String(bytes(lengthField(8)), StandardCharsets.UTF_8));
            case Opcodes.BINSTRING -> stack.add(PickleUtils.rawStringFromBytes(bytes(lengthField(4))));
            case Opcodes.BINBYTES -> stack.add(bytes(lengthField(4)));
            case Opcodes.BINBYTES8, Opcodes.BYTEARRAY8 -> stack.add(bytes(lengthField(8)));
            case Opcodes.LONG4 -> stack.add(PickleUtils.decode_long(bytes(lengthField(4))));
            default -> {
                return super.dispatch(key);
            }
        }
        return NO_RETURN_VALUE;
    }

    /** Persistent ids of storages: {@code ('storage', StorageClass, key, location, numel[, view])}. */
    @Override
    protected Object persistentLoad(Object pid) {
        if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])) {
            throw corrupt("unknown persistent id " + describe(pid) + " (only tensor storages are supported)");
        }
        if (!(t[1] instanceof TorchGlobal g) || g.storageType() == null) {
            throw corrupt("persistent id names " + describe(t[1]) + " instead of a storage class");
        }
        String storageKey = String.valueOf(t[2]);
        long numel = toLong(t[4], "storage numel");
        if (numel < 0) {
            throw corrupt("storage " + t[2] + " with " + numel + " elements");
        }
        StorageRef root = storages.get(storageKey);
        if (root == null) {
            root = new StorageRef(storageKey, g.storageType(), numel);
            storages.put(storageKey, root);
        } else if (root.type != g.storageType()) {
            throw corrupt("storage " + storageKey + " is read both as " + root.type + " and " + g.storageType());
        }
        if (t.length > 5 && t[5] != null) {
            // legacy storage views: (view_key, offset, size) in elements of the root storage
            if (!(t[5] instanceof Object[] v) || v.length != 3) {
                throw corrupt("malformed storage view " + describe(t[5]));
            }
            return new StorageRef.View(root, toLong(v[1], "view offset"), toLong(v[2], "view size"));
        }
        return new StorageRef.View(root, 0, root.numel);
    }

    private TorchGlobal resolve(String module, String name) {
        TorchGlobal g = TorchGlobal.lookup(module, name);
        if (g != null) {
            return g;
        }
        String qualified = module + "." + name;
        if ((module.equals("torch") || module.startsWith("torch."))
                && (name.endsWith("Storage") || name.startsWith("_rebuild_"))) {
            // a PyTorch tensor kind qncd cannot represent (quantized, sparse, complex, float8...)
            throw new FormatException(file + ": it stores a tensor of a kind qncd does not read ('" + qualified
                    + "'); convert such tensors to dense float32/float16/bfloat16/integer tensors and re-save");
        }
        throw new UnsafeCheckpointException(file, qualified);
    }

    private Object call(Object callable, Object[] args) {
        if (!(callable instanceof TorchGlobal g)) {
            throw corrupt("it calls " + describe(callable) + ", which is not a function");
        }
        switch (g) {
            case ORDERED_DICT -> {
                Map<Object, Object> map = new LinkedHashMap<>();
                if (args.length == 1 && args[0] instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        Object[] kv = tuple(p);
                        if (kv.length != 2) {
                            throw corrupt("OrderedDict item " + describe(p));
                        }
                        map.put(kv[0], kv[1]);
                    }
                } else if (args.length != 0) {
                    throw corrupt("OrderedDict arguments " + describe(args));
                }
                return map;
            }
            case REBUILD_TENSOR_V2, REBUILD_TENSOR -> {
                if (args.length < 4) {
                    throw corrupt(g.qualifiedName() + " with " + args.length + " arguments");
                }
                return rebuildTensor(args[0], args[1], args[2], args[3]);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                if (args.length < 1 || !(args[0] instanceof TensorRef)) {
                    throw corrupt(g.qualifiedName() + " without a tensor");
                }
                return args[0];
            }
            case REBUILD_FROM_TYPE_V2 -> {
                if (args.length != 4) {
                    throw corrupt(g.qualifiedName() + " with " + args.length + " arguments");
                }
                if (args[1] != TorchGlobal.TENSOR_CLASS && args[1] != TorchGlobal.PARAMETER_CLASS) {
                    throw corrupt(g.qualifiedName() + " of type " + describe(args[1]));
                }
                if (!(args[0] instanceof TorchGlobal f) || !f.qualifiedName().startsWith("torch._utils._rebuild_")) {
                    throw corrupt(g.qualifiedName() + " with function " + describe(args[0]));
                }
                return call(f, tuple(args[2]));
            }
            case SIZE -> {
                Object[] dims = args.length == 1 ? tuple(args[0]) : args;
                Long[] sizes = new Long[dims.length];
                for (int i = 0; i < dims.length; i++) {
                    sizes[i] = toLong(dims[i], "torch.Size element");
                }
                return List.of(sizes);
            }
            default -> throw corrupt("it calls " + g.qualifiedName() + ", which a checkpoint never calls");
        }
    }

    private TensorRef rebuildTensor(Object storage, Object offset, Object size, Object stride) {
        if (!(storage instanceof StorageRef.View view)) {
            throw corrupt("a tensor whose storage is " + describe(storage));
        }
        Object[] sizes = tuple(size);
        Object[] strides = tuple(stride);
        if (sizes.length != strides.length) {
            throw corrupt("a tensor with size " + describe(size) + " and stride " + describe(stride));
        }
        long[] shape = new long[sizes.length];
        long[] st = new long[sizes.length];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = toLong(sizes[i], "tensor size");
            st[i] = toLong(strides[i], "tensor stride");
            if (shape[i] < 0 || st[i] < 0) {
                throw corrupt("a tensor with size " + Arrays.toString(shape) + " and stride " + describe(stride));
            }
        }
        long off = toLong(offset, "storage offset");
        if (off < 0) {
            throw corrupt("a tensor with storage offset " + off);
        }
        TensorRef t = new TensorRef(view.root(), view.offset() + off, shape, st);
        view.root().tensors.add(t);
        tensors.add(t);
        return t;
    }

    private static Map<Object, Object> putAll(Map<Object, Object> map, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw new IllegalStateException("odd number of dict items");
        }
        for (int i = 0; i < items.size(); i += 2) {
            map.put(items.get(i), items.get(i + 1));
        }
        return map;
    }

    /** A newline-terminated ASCII line (GLOBAL/INST operands); unlike razorvine's, EOF is an error. */
    private String readLine() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("premature end of file");
            }
            if (b == '\n') {
                return sb.toString();
            }
            if (sb.length() >= 4096) {
                throw corrupt("a global name longer than 4096 characters");
            }
            sb.append((char) b);
        }
    }

    private long lengthField(int width) throws IOException {
        byte[] b = PickleUtils.readbytes(in, width);
        long n = width == 4 ? PickleUtils.bytes_to_uint(b, 0) : PickleUtils.bytes_to_long(b, 0);
        if (n < 0 || n > in.remaining() || n > Integer.MAX_VALUE - 16) {
            throw new FormatException(file + ": truncated or corrupt: the pickle announces a " + n
                    + "-byte string but only " + in.remaining() + " bytes are left; re-download the file");
        }
        return n;
    }

    private byte[] bytes(long n) throws IOException {
        return PickleUtils.readbytes(in, (int) n);
    }

    private Object[] tuple(Object o) {
        if (o instanceof Object[] a) {
            return a;
        }
        if (o instanceof List<?> l) {
            return l.toArray();
        }
        throw corrupt("expected a tuple, found " + describe(o));
    }

    private long toLong(Object o, String what) {
        if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) {
            return ((Number) o).longValue();
        }
        if (o instanceof BigInteger b && b.bitLength() < 64) {
            return b.longValue();
        }
        throw corrupt(what + " is " + describe(o));
    }

    private FormatException corrupt(String problem) {
        return new FormatException(file + ": corrupt checkpoint pickle: " + problem
                + "; re-save it with torch.save(model.state_dict(), path)");
    }

    private static String describe(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof TorchGlobal g) {
            return g.qualifiedName();
        }
        if (o instanceof Object[] a) {
            return "a tuple of " + a.length;
        }
        return "a " + o.getClass().getSimpleName();
    }
}
