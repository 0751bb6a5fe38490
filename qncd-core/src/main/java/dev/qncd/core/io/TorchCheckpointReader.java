package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads files written by {@code torch.save}, in the zip format (PyTorch 1.6+) and the legacy pickle
 * format, without running any Python code: only tensors, OrderedDicts, tuples, lists, dicts, numbers
 * and strings are accepted (see {@link TorchGlobal}); anything else throws
 * {@link UnsafeCheckpointException}.
 *
 * <p>Tensors keep their stored element type (float16 stays FLOAT16, int64 INT64, ...) except bfloat16
 * and int16, which come back as FLOAT32 and INT32 (exact widening) because DJL 0.36's PyTorch engine
 * cannot create BFLOAT16 or INT16 arrays (see {@link DjlTypes}); they come back C-contiguous whatever their strides were (views, transposes, slices, expands). Each storage is
 * read once, one at a time; a tensor that covers its whole storage takes over the read buffer without
 * a copy, so a checkpoint is never held twice in memory.
 */
public final class TorchCheckpointReader {

    private static final Logger LOG = LoggerFactory.getLogger(TorchCheckpointReader.class);

    /** Keys under which training scripts nest the state dict, in the order they are tried. */
    public static final List<String> NESTED_STATE_DICT_KEYS =
            List.of("state_dict", "model", "model_state_dict", "ema", "module", "net");

    private static final String DATA_PARALLEL_PREFIX = "module.";

    private TorchCheckpointReader() {}

    /**
     * Reads the whole object a checkpoint holds.
     *
     * @param file a {@code torch.save} file
     * @param manager owns the arrays
     * @return Map ({@link LinkedHashMap}, insertion order, for dicts and OrderedDicts), List (lists and
     *     tuples), Set, String, Number (Integer, Long, BigInteger, Double), Boolean, byte[], null, and
     *     tensors as {@link NDArray}s attached to {@code manager}; a tensor stored twice is the same
     *     array object twice
     * @throws UnsafeCheckpointException when the file references Python code
     * @throws FormatException when the file is not a readable checkpoint (corrupt, truncated, unsupported)
     * @throws QncdException when the file cannot be read at all
     */
    public static Object readObject(Path file, NDManager manager) {
        try (TorchCheckpointSource src = open(file)) {
            Object tree = CheckpointTree.normalize(src.root(), src);
            Map<String, TensorRef> all = CheckpointTree.flatten(tree, "");
            materialize(src, all.values(), manager, ReadSelection.ALL);
            return CheckpointTree.toArrays(tree);
        } catch (IOException e) {
            throw ioError(file, e);
        } catch (QncdException e) {
            throw e;
        } catch (RuntimeException e) {
            throw corrupt(file, e);
        }
    }

    /**
     * Reads the state dict of a checkpoint: a flat map from parameter name to tensor.
     *
     * <p>With {@code key == null} the state dict is detected: a top-level dict whose values are all
     * tensors; else the first dict among {@link #NESTED_STATE_DICT_KEYS} that holds tensors; else every
     * tensor in the file under its dotted path (list indices as numbers: DDIM's {@code ckpt.pth}, a list
     * {@code [model, optimizer, epoch, step, ema]}, gives {@code 0.conv_in.weight} ... {@code
     * 4.conv_in.weight}). A leading {@code module.} (DataParallel) is removed when every key has it.
     * Only the storages of the selected tensors are read.
     *
     * @param file a {@code torch.save} file
     * @param manager owns the arrays
     * @param key null to detect, or a dotted path into the checkpoint (e.g. {@code state_dict}, {@code
     *     4}, {@code model.ema})
     * @return name to tensor in file order; tensors are C-contiguous, in their stored element type
     *     (bfloat16 widened to float32, int16 to int32)
     * @throws UnsafeCheckpointException when the file references Python code
     * @throws FormatException when the key does not exist (the message lists the top-level keys), there
     *     are no tensors, or the file is not a readable checkpoint
     * @throws QncdException when the file cannot be read at all
     */
    public static LinkedHashMap<String, NDArray> readStateDict(Path file, NDManager manager, String key) {
        return readStateDict(file, manager, key, ReadSelection.ALL);
    }

    /**
     * Reads part of the state dict of a checkpoint, as {@link #readStateDict(Path, NDManager, String)}
     * but only the tensors the selection names (the storages of the others are never read) and, when
     * the selection says so, each floating-point tensor converted right after its storage is read: a
     * part of a big checkpoint costs the memory of that part in the chosen type plus one storage.
     *
     * @param file a {@code torch.save} file
     * @param manager owns the arrays
     * @param key null to detect, or a dotted path into the checkpoint
     * @param selection the name prefixes to read and the float type ({@link ReadSelection#ALL} for all)
     * @return name to tensor in file order
     * @throws FormatException also when no tensor name matches the selection (the message lists the
     *     name prefixes the file has)
     * @throws UnsafeCheckpointException when the file references Python code
     * @throws QncdException when the file cannot be read at all
     */
    public static LinkedHashMap<String, NDArray> readStateDict(Path file, NDManager manager, String key,
            ReadSelection selection) {
        long start = System.nanoTime();
        try (TorchCheckpointSource src = open(file)) {
            Object tree = CheckpointTree.normalize(src.root(), src);
            LinkedHashMap<String, TensorRef> flat;
            if (key != null) {
                Object sub = CheckpointTree.select(tree, key, file.toString());
                flat = sub instanceof TensorRef t ? new LinkedHashMap<>(Map.of(key, t)) : CheckpointTree.flatten(sub, "");
                if (flat.isEmpty()) {
                    throw new FormatException(file + ": no tensors under '" + key + "'; the top-level keys are "
                            + CheckpointTree.topLevelKeys(tree) + ": pass the key of the state dict");
                }
            } else {
                flat = detect(tree, file);
            }
            flat = stripDataParallelPrefix(flat, file);
            if (!selection.prefixes().isEmpty()) {
                LinkedHashMap<String, TensorRef> selected = new LinkedHashMap<>();
                flat.forEach((name, t) -> {
                    if (selection.includes(name)) {
                        selected.put(name, t);
                    }
                });
                if (selected.isEmpty()) {
                    throw selection.nothingSelected(file.toString(), flat.keySet());
                }
                flat = selected;
            }
            materialize(src, flat.values(), manager, selection);
            LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
            for (Map.Entry<String, TensorRef> e : flat.entrySet()) {
                out.put(e.getKey(), e.getValue().array);
            }
            LOG.info("read {} tensors from {} in {} ms", out.size(), file, (System.nanoTime() - start) / 1_000_000);
            return out;
        } catch (IOException e) {
            throw ioError(file, e);
        } catch (QncdException e) {
            throw e;
        } catch (RuntimeException e) {
            throw corrupt(file, e);
        }
    }

    private static LinkedHashMap<String, TensorRef> detect(Object tree, Path file) {
        if (tree instanceof Map<?, ?> m && !m.isEmpty()) {
            boolean allTensors = true;
            for (Object v : m.values()) {
                allTensors &= v instanceof TensorRef;
            }
            if (allTensors) {
                return CheckpointTree.flatten(tree, "");
            }
            for (String k : NESTED_STATE_DICT_KEYS) {
                Object v = m.get(k);
                if (v instanceof Map && CheckpointTree.containsTensor(v)) {
                    LOG.info("{}: using the state dict nested under '{}'", file, k);
                    return CheckpointTree.flatten(v, "");
                }
            }
        }
        LinkedHashMap<String, TensorRef> all = CheckpointTree.flatten(tree, "");
        if (all.isEmpty()) {
            throw new FormatException(file + ": the checkpoint holds no tensors (top-level keys "
                    + CheckpointTree.topLevelKeys(tree) + "); pass a checkpoint with model weights");
        }
        LOG.info("{}: no state dict found at the top or under {}; using all {} tensors by dotted path",
                file, NESTED_STATE_DICT_KEYS, all.size());
        return all;
    }

    private static LinkedHashMap<String, TensorRef> stripDataParallelPrefix(LinkedHashMap<String, TensorRef> flat,
            Path file) {
        for (String k : flat.keySet()) {
            if (!k.startsWith(DATA_PARALLEL_PREFIX)) {
                return flat;
            }
        }
        LinkedHashMap<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : flat.entrySet()) {
            out.put(e.getKey().substring(DATA_PARALLEL_PREFIX.length()), e.getValue());
        }
        LOG.info("{}: removed the DataParallel prefix '{}' from all {} keys", file, DATA_PARALLEL_PREFIX, out.size());
        return out;
    }

    /** Opens the file in the format its first bytes announce. */
    private static TorchCheckpointSource open(Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(512);
        }
        if (head.length == 0) {
            throw new FormatException(file + ": the file is empty; pass a checkpoint written by torch.save");
        }
        if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5)) {
            return TorchZipCheckpoint.open(file);
        }
        if ((head[0] & 0xff) == 0x80) {
            return TorchLegacyCheckpoint.open(file);
        }
        if (head.length >= 262 && new String(head, 257, 5, java.nio.charset.StandardCharsets.US_ASCII).equals("ustar")) {
            throw new FormatException(file + ": a tar-based checkpoint of PyTorch < 0.4, which qncd does not read; "
                    + "load it with an old PyTorch and re-save it with torch.save(model.state_dict(), path)");
        }
        throw new FormatException(file + ": not a PyTorch checkpoint (neither a zip archive nor a pickle); "
                + "pass a file written by torch.save");
    }

    /**
     * Reads the storages of the given tensors and sets their arrays (converted as the selection says).
     * Arrays are made in a sub-manager and moved to {@code manager} only when everything was read, so a
     * failure leaks nothing.
     */
    private static void materialize(TorchCheckpointSource src, Collection<TensorRef> refs, NDManager manager,
            ReadSelection selection) throws IOException {
        Set<TensorRef> wanted = Collections.newSetFromMap(new IdentityHashMap<>());
        wanted.addAll(refs);
        Set<StorageRef> needed = new LinkedHashSet<>();
        for (TensorRef t : wanted) {
            needed.add(t.storage);
        }
        String fix = TorchCheckpointSource.fixCorrupt();
        try (NDManager tmp = manager.newSubManager()) {
            src.readStorages(needed, (s, data) -> {
                boolean truncated = data.limit() < s.declaredBytes();
                String where = src.file + (truncated ? ": truncated: storage " : ": corrupt: storage ") + s.key;
                boolean wrapped = false;
                for (TensorRef t : s.tensors) {
                    if (!wanted.contains(t) || t.array != null) {
                        continue;
                    }
                    boolean wrap = !wrapped && TensorFactory.wouldWrap(data, s.type, t.offset, t.shape, t.stride);
                    t.array = TensorFactory.create(tmp, data, s.type, t.offset, t.shape, t.stride, wrap, where,
                            "tensor '" + t.name + "'", fix);
                    wrapped |= wrap;
                    // converted while this storage is the only one in memory; the stored copy is freed
                    t.array = selection.convert(t.array);
                }
                if (truncated) {
                    throw new FormatException(where + " has " + data.limit() + " of the " + s.declaredBytes()
                            + " bytes the checkpoint declares; " + fix);
                }
            });
            Set<NDArray> moved = Collections.newSetFromMap(new IdentityHashMap<>());
            for (TensorRef t : wanted) {
                if (t.array == null) {
                    throw new FormatException(src.file + ": the data of storage " + t.storage.key + " (tensor '"
                            + t.name + "') is missing; " + fix);
                }
                if (moved.add(t.array)) {
                    t.array.attach(manager);
                }
            }
        }
    }

    /** Arithmetic overflow, impossible sizes and the like from inconsistent numbers in a damaged file. */
    private static FormatException corrupt(Path file, RuntimeException e) {
        return new FormatException(file + ": corrupt checkpoint (" + e + "); re-download it or re-save it with "
                + "torch.save", e);
    }

    private static QncdException ioError(Path file, IOException e) {
        if (e instanceof NoSuchFileException) {
            return new QncdException(file + ": no such file; check the checkpoint path", e);
        }
        if (e instanceof AccessDeniedException) {
            return new QncdException(file + ": permission denied; make the file readable", e);
        }
        return new FormatException(file + ": cannot read the checkpoint (" + e + "); it may be truncated or "
                + "damaged: re-download it or re-save it with torch.save", e);
    }
}
