package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import dev.qncd.core.util.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * numpy's {@code .npz} format: a zip archive of {@code <name>.npy} entries, stored
 * ({@code np.savez}) or deflated ({@code np.savez_compressed}). This is how ADM-style evaluator batches
 * ({@code arr_0}: uint8 NHWC images) and FID statistics ({@code mu}, {@code sigma}) are exchanged.
 */
public final class Npz {

    private static final Logger LOG = LoggerFactory.getLogger(Npz.class);
    private static final String SUFFIX = ".npy";
    /** Fixed entry time (1980-01-01, the zip epoch) so that equal arrays give equal files. */
    private static final long ENTRY_TIME = 315532800000L;

    private Npz() {}

    /**
     * Reads every array of an {@code .npz} file.
     *
     * @param file the file
     * @param manager owns the arrays
     * @return name (without {@code .npy}) to array, in file order
     * @throws FormatException when the archive or an array in it is malformed or truncated
     * @throws QncdException when the file cannot be read
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        try (ZipFile zip = open(file); NDManager tmp = manager.newSubManager()) {
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements();) {
                ZipEntry e = en.nextElement();
                if (e.isDirectory()) {
                    continue;
                }
                if (!e.getName().endsWith(SUFFIX)) {
                    LOG.warn("{}: skipping the entry {}, which is not a .npy array", file, e.getName());
                    continue;
                }
                String source = file + ":" + e.getName();
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(e.getName().substring(0, e.getName().length() - SUFFIX.length()), Npy.read(in, tmp, source, e.getSize()));
                } catch (ZipException ex) {
                    throw new FormatException(source + ": corrupt entry (" + ex.getMessage() + "); re-create the "
                            + "file with numpy.savez", ex);
                }
            }
            for (NDArray a : out.values()) {
                a.attach(manager);
            }
        } catch (IOException e) {
            throw Npy.ioError(file, e);
        }
        return out;
    }

    private static ZipFile open(Path file) throws IOException {
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new FormatException(file + ": not a valid .npz (zip) archive, or truncated (" + e.getMessage()
                    + "); re-create it with numpy.savez", e);
        }
    }

    /**
     * Writes arrays as an uncompressed {@code .npz}, atomically.
     *
     * @param file the target
     * @param arrays name (without {@code .npy}) to array
     * @throws FormatException when an element type has no numpy equivalent
     * @throws QncdException when the file cannot be written
     */
    public static void write(Path file, Map<String, NDArray> arrays) {
        write(file, arrays, false);
    }

    /**
     * Writes arrays as an {@code .npz}, atomically.
     *
     * @param file the target
     * @param arrays name (without {@code .npy}) to array, written in iteration order
     * @param compressed deflate the entries (like {@code np.savez_compressed}); slower, smaller
     * @throws FormatException when an element type has no numpy equivalent
     * @throws QncdException when the file cannot be written
     */
    public static void write(Path file, Map<String, NDArray> arrays, boolean compressed) {
        List<NpyHeader> headers = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
            headers.add(Npy.header(e.getValue(), file + ":" + e.getKey() + SUFFIX));
        }
        try {
            AtomicFiles.write(file, out -> {
                ZipOutputStream zip = new ZipOutputStream(out);
                int i = 0;
                for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
                    NpyHeader h = headers.get(i++);
                    ZipEntry entry = new ZipEntry(e.getKey() + SUFFIX);
                    entry.setTime(ENTRY_TIME);
                    if (compressed) {
                        entry.setMethod(ZipEntry.DEFLATED);
                    } else {
                        // stored entries need their size and CRC up front
                        byte[] pre = h.encode();
                        CRC32 crc = new CRC32();
                        crc.update(pre);
                        long size = pre.length;
                        if (e.getValue().size() > 0) {
                            ByteBuffer data = e.getValue().toByteBuffer(true).duplicate();
                            size += data.remaining();
                            crc.update(data);
                        }
                        entry.setMethod(ZipEntry.STORED);
                        entry.setSize(size);
                        entry.setCompressedSize(size);
                        entry.setCrc(crc.getValue());
                    }
                    zip.putNextEntry(entry);
                    Npy.write(zip, e.getValue(), h);
                    zip.closeEntry();
                }
                zip.finish();
                zip.flush();
            });
        } catch (IOException e) {
            throw new QncdException(file + ": cannot write (" + e + "); check that the directory is writable "
                    + "and the disk has space", e);
        }
    }
}
