package dev.qncd.core.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An opened {@code torch.save} file: its unpickled object (tensors still unread, as {@link TensorRef}s)
 * and a way to read the storages' bytes, each once, in file order.
 */
abstract class TorchCheckpointSource implements Closeable {

    /** Receives one storage's bytes. */
    @FunctionalInterface
    interface StorageConsumer {
        /**
         * @param storage the storage
         * @param data its bytes: position 0, limit = the bytes present in the file (less than
         *     {@link StorageRef#declaredBytes()} when the file is truncated), little-endian; valid only
         *     during the call unless an array wraps it
         */
        void accept(StorageRef storage, ByteBuffer data);
    }

    /** The file, for messages. */
    final String file;
    /** Storages named by the pickle, by key, in order of first use. */
    final Map<String, StorageRef> storages = new LinkedHashMap<>();
    /** Every tensor the pickle builds, in order. */
    final List<TensorRef> tensors = new ArrayList<>();

    TorchCheckpointSource(String file) {
        this.file = file;
    }

    /** @return the unpickled main object */
    abstract Object root();

    /**
     * Reads the bytes of the given storages, each once.
     *
     * @param needed the storages to read; others are skipped
     * @param consumer receives each storage's bytes
     * @throws IOException when the file cannot be read
     * @throws dev.qncd.core.FormatException when a storage is missing or the file is truncated
     */
    abstract void readStorages(Set<StorageRef> needed, StorageConsumer consumer) throws IOException;

    /** @return the advice appended to messages about missing or short data */
    static String fixCorrupt() {
        return "the file is damaged: re-download it or re-save it with torch.save";
    }
}
