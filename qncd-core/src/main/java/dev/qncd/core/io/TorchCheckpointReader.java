package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import dev.qncd.core.io.TorchUnpickler.StorageRef;
import dev.qncd.core.io.TorchUnpickler.StorageType;
import dev.qncd.core.io.TorchUnpickler.TensorRef;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads files written by {@code torch.save}, without Python and without running code.
 *
 * <ul>
 *   <li>Zip format (PyTorch 1.6 and later): {@code <archive>/data.pkl} holds the object, each storage is
 *       the entry {@code <archive>/data/<key>}; persistent ids are
 *       {@code ('storage', type, key, location, numel)}.</li>
 *   <li>Legacy format: sequential pickles (magic number 0x1950a86a20f9469cfc6c, protocol version,
 *       system info, the object with persistent ids {@code ('storage', type, key, location, numel,
 *       view_metadata)}, the list of storage keys), then per key an int64 element count and the raw
 *       bytes.</li>
 * </ul>
 *
 * <p>Unpickling goes through {@link TorchUnpickler}, which accepts only the globals a tensor checkpoint
 * needs. Tensors are materialised after unpickling, storage by storage: each storage's bytes are read
 * once, every tensor over it (shared storages, views with offsets and strides) is created from them,
 * and the bytes are dropped before the next storage, so a checkpoint is never held twice in memory.
 * Stored types are kept except bfloat16 and int16, which are widened ({@link TensorBuffers}).
 */
public final class TorchCheckpointReader {
    private static final Logger LOG = LoggerFactory.getLogger(TorchCheckpointReader.class);
    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final List<String> STATE_DICT_KEYS =
            List.of("state_dict", "model", "model_state_dict", "ema", "module", "net");

    private TorchCheckpointReader() {}

    /**
     * Reads the whole saved object.
     *
     * @param file a torch.save file (zip or legacy)
     * @param manager owner of the tensors
     * @return the object tree: {@code Map} (dicts, in order), {@code List} (lists and tuples), String,
     *     Number, Boolean, null, and {@link NDArray} for tensors
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is corrupt, truncated or unsafe
     */
    public static Object readObject(Path file, NDManager manager) throws IOException {
        CheckpointFormat format = CheckpointFormat.detect(file);
        if (format == CheckpointFormat.TORCH_ZIP) {
            return readZip(file, manager);
        }
        if (format == CheckpointFormat.TORCH_LEGACY) {
            return readLegacy(file, manager);
        }
        throw new FormatException(file + " is " + format + ", not a torch.save checkpoint");
    }

    /**
     * Reads the state dict of a checkpoint as named tensors.
     *
     * @param file a torch.save file (zip or legacy)
     * @param manager owner of the tensors
     * @param key dotted path of the state dict inside the saved object (e.g. {@code state_dict} or
     *     {@code 4} for the fifth element of a list); null to find it: a top-level dict of tensors,
     *     else the first of {@code state_dict, model, model_state_dict, ema, module, net} holding a
     *     dict, else every tensor of the file under its dotted path. A {@code module.} prefix on every
     *     key (DataParallel) is removed.
     * @return tensors by name, in file order
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is corrupt, truncated, unsafe, or the key is missing
     */
    public static LinkedHashMap<String, NDArray> readStateDict(Path file, NDManager manager, String key)
            throws IOException {
        Object root = readObject(file, manager);
        Object node = root;
        if (key != null && !key.isEmpty()) {
            for (String part : key.split("\\.")) {
                node = child(node, part);
                if (node == null) {
                    throw new FormatException(file + " has no entry '" + key + "' (at '" + part + "'); its top-level "
                            + "keys are " + topKeys(root) + ": pass one of them as the key");
                }
            }
        } else if (!isTensorDict(root) && root instanceof Map<?, ?> m) {
            for (String k : STATE_DICT_KEYS) {
                if (m.get(k) instanceof Map<?, ?> sub && !sub.isEmpty()) {
                    LOG.debug("{}: using the state dict under '{}'", file, k);
                    node = sub;
                    break;
                }
            }
        }
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        flatten("", node, out);
        if (out.isEmpty()) {
            throw new FormatException(file + " holds no tensors" + (key == null ? "" : " under '" + key + "'")
                    + "; its top-level keys are " + topKeys(root));
        }
        if (out.keySet().stream().allMatch(k -> k.startsWith("module."))) {
            LOG.info("{}: removing the 'module.' prefix (a DataParallel checkpoint)", file);
            LinkedHashMap<String, NDArray> stripped = new LinkedHashMap<>();
            out.forEach((k, v) -> stripped.put(k.substring("module.".length()), v));
            out = stripped;
        }
        return out;
    }

    // --- tree helpers ------------------------------------------------------------------------------

    private static boolean isTensorDict(Object o) {
        return o instanceof Map<?, ?> m && !m.isEmpty() && m.values().stream().allMatch(v -> v instanceof NDArray);
    }

    private static Object child(Object node, String part) {
        if (node instanceof Map<?, ?> m) {
            return m.get(part);
        }
        if (node instanceof List<?> l && part.matches("\\d+")) {
            int i = Integer.parseInt(part);
            return i < l.size() ? l.get(i) : null;
        }
        return null;
    }

    private static String topKeys(Object root) {
        if (root instanceof Map<?, ?> m) {
            List<String> keys = new ArrayList<>();
            m.keySet().forEach(k -> keys.add(String.valueOf(k)));
            return keys.size() > 20 ? keys.subList(0, 20) + " (" + keys.size() + " in all)" : keys.toString();
        }
        if (root instanceof List<?> l) {
            return "the indices 0.." + (l.size() - 1) + " of a list";
        }
        return "none (the file holds a " + (root == null ? "None" : root.getClass().getSimpleName()) + ")";
    }

    private static void flatten(String prefix, Object node, Map<String, NDArray> out) {
        if (node instanceof NDArray a) {
            out.put(prefix, a);
        } else if (node instanceof Map<?, ?> m) {
            m.forEach((k, v) -> flatten(prefix.isEmpty() ? String.valueOf(k) : prefix + "." + k, v, out));
        } else if (node instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) {
                flatten(prefix.isEmpty() ? String.valueOf(i) : prefix + "." + i, l.get(i), out);
            }
        }
    }

    // --- zip format --------------------------------------------------------------------------------

    private static Object readZip(Path file, NDManager manager) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pkl = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                if (e.getName().endsWith("/data.pkl") || e.getName().equals("data.pkl")) {
                    pkl = e;
                    break;
                }
            }
            if (pkl == null) {
                throw new FormatException(file + " is a zip archive without data.pkl: not a torch.save checkpoint");
            }
            String prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            checkByteOrder(file, zip, prefix);
            Map<String, StorageRef> refs = new LinkedHashMap<>();
            TorchUnpickler up = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs));
            Object tree;
            try (InputStream in = new BufferedInputStream(zip.getInputStream(pkl))) {
                tree = up.loadObject(in);
            }
            Scratch scratch = new Scratch();
            return materialise(file, tree, manager, null, storage -> {
                ZipEntry e = zip.getEntry(prefix + "data/" + storage.key());
                if (e == null) {
                    throw new FormatException(file + " is missing the storage entry '" + prefix + "data/"
                            + storage.key() + "' (truncated or corrupt archive)");
                }
                try (InputStream in = zip.getInputStream(e)) {
                    return readAll(file, in, storage.numel() * storage.type().bytes(), "storage " + storage.key(),
                            scratch.get(storage.numel() * storage.type().bytes(), file));
                }
            });
        } catch (ZipException e) {
            throw new FormatException(file + " is a corrupt or truncated zip archive (" + e.getMessage()
                    + "): re-save or re-download the checkpoint", e);
        }
    }

    private static void checkByteOrder(Path file, ZipFile zip, String prefix) throws IOException {
        ZipEntry bo = zip.getEntry(prefix + "byteorder");
        if (bo != null) {
            try (InputStream in = zip.getInputStream(bo)) {
                String order = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
                if (!order.equals("little")) {
                    throw new FormatException(file + " was saved on a " + order + "-endian machine; qncd reads "
                            + "little-endian checkpoints only: re-save it on a little-endian machine");
                }
            }
        }
    }

    /** ('storage', storage_type, key, location, numel[, view_metadata]) -> a storage reference. */
    private static StorageRef storageRef(Path file, Object[] t, Map<String, StorageRef> refs) {
        if (!(t[1] instanceof StorageType type)) {
            throw new FormatException(file + ": unsupported storage type " + TorchUnpickler.describe(t[1])
                    + " (torch.UntypedStorage and others are not supported): re-save the checkpoint with typed tensors");
        }
        String key = String.valueOf(t[2]);
        long numel = ((Number) t[4]).longValue();
        if (t.length > 5 && t[5] != null) {
            throw new FormatException(file + ": storage views (pre-0.4 PyTorch) are not supported: re-save the"
                    + " checkpoint with a newer PyTorch");
        }
        return refs.computeIfAbsent(key, k -> new StorageRef(k, type.type(), numel));
    }

    // --- legacy format -----------------------------------------------------------------------------

    private static Object readLegacy(Path file, NDManager manager) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
            Map<String, StorageRef> refs = new LinkedHashMap<>();
            Object magic = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs)).loadObject(in);
            if (!(magic instanceof Number n) || !new BigInteger(n.toString()).equals(LEGACY_MAGIC)) {
                throw new FormatException(file + " is a pickle but not a torch.save checkpoint (wrong magic number)");
            }
            Object protocol = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs)).loadObject(in);
            if (!(protocol instanceof Number p) || p.intValue() != 1001) {
                throw new FormatException(file + ": unsupported legacy torch.save protocol " + protocol);
            }
            Object sysInfo = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs)).loadObject(in);
            if (sysInfo instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
                throw new FormatException(file + " was saved on a big-endian machine: re-save it on a little-endian one");
            }
            Object tree = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs)).loadObject(in);
            Object keys = new TorchUnpickler(file.toString(), t -> storageRef(file, t, refs)).loadObject(in);
            if (!(keys instanceof List<?> keyList)) {
                throw new FormatException(file + ": corrupt legacy checkpoint (no storage key list)");
            }
            // Storages follow in the order of the key list (torch sorts the keys, so this is not the
            // order in which tensors appear): int64 element count, then the bytes. Read them in file
            // order, skipping any no tensor uses.
            List<String> order = new ArrayList<>();
            keyList.forEach(k -> order.add(String.valueOf(k)));
            final int[] next = {0};
            Scratch scratch = new Scratch();
            return materialise(file, tree, manager, order, storage -> {
                int want = order.indexOf(storage.key());
                if (want < next[0]) {
                    throw new FormatException(file + ": storage '" + storage.key() + "' is not in the storage list");
                }
                while (true) {
                    String k = order.get(next[0]);
                    byte[] count = in.readNBytes(8);
                    if (count.length < 8) {
                        throw new FormatException(file + " is truncated: storage '" + k + "' is missing");
                    }
                    long numel = ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    StorageRef ref = refs.get(k);
                    long bytes = numel * (ref == null ? 1 : ref.type().bytes());
                    next[0]++;
                    if (next[0] - 1 == want) {
                        return readAll(file, in, bytes, "storage " + k, scratch.get(bytes, file));
                    }
                    try {
                        in.skipNBytes(bytes); // a storage no tensor of the tree uses
                    } catch (java.io.EOFException e) {
                        throw new FormatException(file + " is truncated in storage '" + k + "'", e);
                    }
                }
            });
        }
    }

    // --- materialisation ---------------------------------------------------------------------------

    /** Reads one storage's bytes. */
    @FunctionalInterface
    private interface StorageSource {
        ByteBuffer read(StorageRef storage) throws IOException;
    }

    /**
     * Replaces every {@link TensorRef} in the tree by an NDArray, reading each storage once: in the
     * given key order when there is one (sequential formats), else in first-use order.
     */
    private static Object materialise(Path file, Object tree, NDManager manager, List<String> order,
            StorageSource source) throws IOException {
        List<TensorRef> refs = new ArrayList<>();
        collect(tree, refs);
        Map<String, List<TensorRef>> byStorage = new LinkedHashMap<>();
        for (TensorRef r : refs) {
            byStorage.computeIfAbsent(r.storage().key(), s -> new ArrayList<>()).add(r);
        }
        List<String> keys = new ArrayList<>(byStorage.keySet());
        if (order != null) {
            keys.sort(java.util.Comparator.comparingInt(order::indexOf));
        }
        Map<TensorRef, NDArray> made = new IdentityHashMap<>();
        try {
            for (String key : keys) {
                List<TensorRef> users = byStorage.get(key);
                ByteBuffer bytes = source.read(users.get(0).storage());
                for (TensorRef r : users) {
                    made.put(r, tensor(file, manager, bytes, r));
                }
            }
        } catch (RuntimeException | IOException ex) {
            made.values().forEach(NDArray::close);
            throw ex;
        }
        return replace(tree, made);
    }

    private static void collect(Object node, List<TensorRef> out) {
        if (node instanceof TensorRef t) {
            out.add(t);
        } else if (node instanceof Map<?, ?> m) {
            m.values().forEach(v -> collect(v, out));
        } else if (node instanceof List<?> l) {
            l.forEach(v -> collect(v, out));
        } else if (node instanceof Object[] a) {
            for (Object v : a) {
                collect(v, out);
            }
        }
    }

    private static Object replace(Object node, Map<TensorRef, NDArray> made) {
        if (node instanceof TensorRef t) {
            return made.get(t);
        }
        if (node instanceof Map<?, ?> m) {
            LinkedHashMap<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, replace(v, made)));
            return out;
        }
        if (node instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            l.forEach(v -> out.add(replace(v, made)));
            return out;
        }
        if (node instanceof Object[] a) {
            List<Object> out = new ArrayList<>(a.length);
            for (Object v : a) {
                out.add(replace(v, made));
            }
            return out;
        }
        return node;
    }

    /** Creates one tensor from its storage bytes: a slice when contiguous, a strided gather otherwise. */
    private static NDArray tensor(Path file, NDManager manager, ByteBuffer storage, TensorRef r) {
        ElementType type = r.storage().type();
        int es = type.bytes();
        long[] shape = r.shape();
        long numel = 1;
        long maxOffset = r.offset();
        for (int i = 0; i < shape.length; i++) {
            numel *= shape[i];
            if (shape[i] > 0) {
                maxOffset += (shape[i] - 1) * r.stride()[i];
            }
        }
        long storageNumel = storage.limit() / es;
        if (numel > 0 && (r.offset() < 0 || maxOffset >= storageNumel)) {
            throw new FormatException(file + " is corrupt or truncated: storage " + r.storage().key() + " has "
                    + storage.limit() + " bytes, a tensor of shape " + java.util.Arrays.toString(shape) + " needs "
                    + (maxOffset + 1) * es + " (offset " + r.offset() + ", stride "
                    + java.util.Arrays.toString(r.stride()) + ")");
        }
        if (numel == 0) {
            return TensorBuffers.fromLittleEndian(manager, ByteBuffer.allocate(0), shape, type);
        }
        if (isContiguous(shape, r.stride())) {
            ByteBuffer slice = storage.duplicate();
            slice.position(Math.toIntExact(r.offset() * es)).limit(Math.toIntExact((r.offset() + numel) * es));
            return TensorBuffers.fromLittleEndian(manager, slice, shape, type);
        }
        // Strided view: gather element by element in C order (rare: transposed or sliced saves).
        ByteBuffer dst = ByteBuffer.allocateDirect(Math.toIntExact(numel * es)).order(ByteOrder.LITTLE_ENDIAN);
        long[] idx = new long[shape.length];
        byte[] elem = new byte[es];
        for (long n = 0; n < numel; n++) {
            long off = r.offset();
            for (int d = 0; d < shape.length; d++) {
                off += idx[d] * r.stride()[d];
            }
            storage.get(Math.toIntExact(off * es), elem);
            dst.put(elem);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        dst.flip();
        return TensorBuffers.fromLittleEndian(manager, dst, shape, type);
    }

    private static boolean isContiguous(long[] shape, long[] stride) {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /**
     * One direct buffer reused for every storage: a storage's bytes live only until its tensors are
     * created (each tensor copies them), so the reader needs one buffer of the largest storage rather
     * than a second copy of the checkpoint waiting for the garbage collector.
     */
    private static final class Scratch {
        private ByteBuffer buffer;

        ByteBuffer get(long bytes, Path file) {
            if (buffer == null || buffer.capacity() < bytes) {
                buffer = allocate(bytes, file);
            }
            buffer.clear();
            return buffer;
        }

        static ByteBuffer allocate(long bytes, Path file) {
            if (bytes > Integer.MAX_VALUE - 16) {
                throw new FormatException(file + ": a storage of " + bytes + " bytes is over the 2 GB qncd can read"
                        + " as one piece: save the checkpoint as safetensors or split the tensor");
            }
            return ByteBuffer.allocateDirect((int) Math.max(bytes, 1)).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** Reads exactly {@code bytes} bytes into {@code buf} (cleared, capacity at least bytes); returns it flipped. */
    private static ByteBuffer readAll(Path file, InputStream in, long bytes, String what, ByteBuffer buf)
            throws IOException {
        buf.clear().limit((int) bytes);
        byte[] chunk = new byte[1 << 16];
        while (buf.hasRemaining()) {
            int n;
            try {
                n = in.read(chunk, 0, Math.min(chunk.length, buf.remaining()));
            } catch (ZipException | java.io.EOFException e) {
                throw new FormatException(file + " is truncated or corrupt in " + what + " (" + e.getMessage() + ")", e);
            }
            if (n < 0) {
                throw new FormatException(file + " is truncated: " + what + " needs " + bytes + " bytes, only "
                        + buf.position() + " are there");
            }
            buf.put(chunk, 0, n);
        }
        buf.flip();
        return buf;
    }
}
