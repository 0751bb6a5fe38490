package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The legacy format of {@code torch.save(..., _use_new_zipfile_serialization=False)}: consecutive
 * pickles (magic number {@code 0x1950a86a20f9469cfc6c}, protocol version 1001, sys_info, the main
 * object whose persistent ids are {@code ('storage', StorageClass, key, location, numel, view)}, the
 * list of storage keys), then for each key in that list an int64 little-endian element count and the
 * raw bytes.
 */
final class TorchLegacyCheckpoint extends TorchCheckpointSource {

    private static final BigInteger MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final int PROTOCOL_VERSION = 1001;

    private final CountingInputStream in;
    private final Object root;
    private final List<String> keys = new ArrayList<>();

    private TorchLegacyCheckpoint(String file, CountingInputStream in) {
        super(file);
        this.in = in;
        Object magic = pickle("magic number");
        if (!(magic instanceof Number n) || !new BigInteger(n.toString()).equals(MAGIC)) {
            throw new FormatException(file + ": not a PyTorch checkpoint (a pickle without torch's magic number); "
                    + "pass a file written by torch.save");
        }
        Object version = pickle("protocol version");
        if (!(version instanceof Number v) || v.intValue() != PROTOCOL_VERSION) {
            throw new FormatException(file + ": unsupported legacy checkpoint protocol " + version
                    + " (expected " + PROTOCOL_VERSION + "); re-save it with a recent PyTorch");
        }
        Object sysInfo = pickle("sys_info");
        if (sysInfo instanceof Map<?, ?> m && Boolean.FALSE.equals(m.get("little_endian"))) {
            throw new FormatException(file + ": saved on a big-endian machine; re-save it on a little-endian one");
        }
        this.root = pickle("main object");
        Object list = pickle("storage key list");
        if (!(list instanceof List<?> l)) {
            throw new FormatException(file + ": corrupt legacy checkpoint: the storage key list is missing; "
                    + fixCorrupt());
        }
        for (Object k : l) {
            keys.add(String.valueOf(k));
        }
    }

    /**
     * @param path a legacy checkpoint
     * @return the opened checkpoint, its pickles read up to the storage data
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is not a readable legacy checkpoint
     */
    static TorchLegacyCheckpoint open(Path path) throws IOException {
        long size = Files.size(path);
        CountingInputStream in = new CountingInputStream(new BufferedInputStream(Files.newInputStream(path), 1 << 16), size);
        try {
            return new TorchLegacyCheckpoint(path.toString(), in);
        } catch (RuntimeException e) {
            in.close();
            throw e;
        }
    }

    private Object pickle(String what) {
        return new TorchUnpickler(file, in, storages, tensors).read(what);
    }

    @Override
    Object root() {
        return root;
    }

    @Override
    void readStorages(Set<StorageRef> needed, StorageConsumer consumer) throws IOException {
        int left = needed.size();
        for (int i = 0; i < keys.size() && left > 0; i++) {
            String key = keys.get(i);
            String where = "storage " + key + " (" + (i + 1) + " of " + keys.size() + ")";
            byte[] count = in.readNBytes(8);
            if (count.length < 8) {
                throw new FormatException(file + ": truncated: the file ends before the data of " + where
                        + "; " + fixCorrupt());
            }
            long numel = ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).getLong();
            StorageRef s = storages.get(key);
            if (s == null) {
                throw new FormatException(file + ": corrupt legacy checkpoint: " + where
                        + " is not used by the pickle; " + fixCorrupt());
            }
            if (numel != s.numel) {
                throw new FormatException(file + ": corrupt legacy checkpoint: " + where + " holds " + numel
                        + " elements but the pickle declares " + s.numel + "; " + fixCorrupt());
            }
            if (needed.contains(s)) {
                // never allocate more than the file holds: a corrupt numel must not exhaust memory
                consumer.accept(s, DirectBuffers.read(in, Math.min(s.declaredBytes(), in.remaining())));
                left--;
            } else {
                try {
                    in.skipNBytes(s.declaredBytes());
                } catch (EOFException e) {
                    throw new FormatException(file + ": truncated: the file ends inside the data of " + where
                            + "; " + fixCorrupt(), e);
                }
            }
        }
        if (left > 0) {
            throw new FormatException(file + ": corrupt legacy checkpoint: " + left
                    + " storages used by tensors are not in the storage key list; " + fixCorrupt());
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
