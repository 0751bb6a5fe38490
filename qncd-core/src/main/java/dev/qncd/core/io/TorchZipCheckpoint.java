package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The zip format of {@code torch.save} (PyTorch 1.6 and later): {@code <archive>/data.pkl} holds the
 * pickle, {@code <archive>/data/<key>} the raw little-endian bytes of each storage, {@code
 * <archive>/byteorder} (newer versions) the byte order. The archive folder's name varies with the file
 * name it was saved under, so the pickle is found by its suffix.
 */
final class TorchZipCheckpoint extends TorchCheckpointSource {

    private final ZipFile zip;
    private final String prefix;
    private final Object root;

    private TorchZipCheckpoint(String file, ZipFile zip, String prefix) throws IOException {
        super(file);
        this.zip = zip;
        this.prefix = prefix;
        ZipEntry order = zip.getEntry(prefix + "byteorder");
        if (order != null) {
            String byteOrder = new String(readAll(order), StandardCharsets.US_ASCII).trim();
            if (!byteOrder.equals("little")) {
                throw new FormatException(file + ": its tensors are stored " + byteOrder
                        + "-endian; qncd reads little-endian checkpoints: re-save it on a little-endian machine");
            }
        }
        byte[] pickle = readAll(zip.getEntry(prefix + "data.pkl"));
        CountingInputStream in = new CountingInputStream(new ByteArrayInputStream(pickle), pickle.length);
        this.root = new TorchUnpickler(file, in, storages, tensors).read(prefix + "data.pkl");
    }

    /**
     * @param path a zip checkpoint
     * @return the opened checkpoint, its pickle read
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is not a readable torch zip checkpoint
     */
    static TorchZipCheckpoint open(Path path) throws IOException {
        String file = path.toString();
        ZipFile zip;
        try {
            zip = new ZipFile(path.toFile());
        } catch (ZipException e) {
            throw new FormatException(file + ": truncated or corrupt zip archive (" + e.getMessage() + "); "
                    + fixCorrupt(), e);
        }
        try {
            String pkl = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements();) {
                String name = en.nextElement().getName();
                if (name.equals("data.pkl") || name.endsWith("/data.pkl")) {
                    // prefer <archive>/data.pkl over deeper matches
                    if (pkl == null || name.length() < pkl.length()) {
                        pkl = name;
                    }
                }
            }
            if (pkl == null) {
                throw new FormatException(file + ": a zip archive without data.pkl, so not a torch.save "
                        + "checkpoint (TorchScript and other archives are not supported); save the weights with "
                        + "torch.save(model.state_dict(), path)");
            }
            TorchZipCheckpoint c = new TorchZipCheckpoint(file, zip, pkl.substring(0, pkl.length() - "data.pkl".length()));
            zip = null;
            return c;
        } catch (ZipException e) {
            throw new FormatException(file + ": corrupt zip archive (" + e.getMessage() + "); " + fixCorrupt(), e);
        } finally {
            if (zip != null) {
                zip.close();
            }
        }
    }

    @Override
    Object root() {
        return root;
    }

    @Override
    void readStorages(Set<StorageRef> needed, StorageConsumer consumer) throws IOException {
        for (StorageRef s : storages.values()) {
            if (!needed.contains(s)) {
                continue;
            }
            String record = prefix + "data/" + s.key;
            ZipEntry e = zip.getEntry(record);
            if (e == null) {
                throw new FormatException(file + ": truncated or corrupt: the record " + record + " of storage "
                        + s.key + " is missing; " + fixCorrupt());
            }
            ByteBuffer data;
            // never allocate more than the record holds: a corrupt numel must not exhaust memory
            long bytes = e.getSize() >= 0 ? Math.min(s.declaredBytes(), e.getSize()) : s.declaredBytes();
            try (InputStream in = zip.getInputStream(e)) {
                data = DirectBuffers.read(in, bytes);
            } catch (ZipException ex) {
                throw new FormatException(file + ": corrupt record " + record + " (" + ex.getMessage() + "); "
                        + fixCorrupt(), ex);
            }
            consumer.accept(s, data);
        }
    }

    private byte[] readAll(ZipEntry e) throws IOException {
        if (e.getSize() > Integer.MAX_VALUE - 16) {
            throw new FormatException(file + ": the record " + e.getName() + " is too large ("
                    + e.getSize() + " bytes) to be a checkpoint pickle; " + fixCorrupt());
        }
        try (InputStream in = zip.getInputStream(e)) {
            return in.readAllBytes();
        }
    }

    @Override
    public void close() throws IOException {
        zip.close();
    }
}
