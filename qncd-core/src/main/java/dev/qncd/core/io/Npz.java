package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import dev.qncd.core.util.AtomicFiles;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The numpy {@code .npz} format: a zip archive of {@code <name>.npy} entries, stored
 * ({@code np.savez}) or deflated ({@code np.savez_compressed}). This is what ADM's evaluator and the
 * paper's scripts exchange: {@code arr_0} uint8 NHWC image batches, and reference statistics
 * {@code mu}/{@code sigma} (float64).
 */
public final class Npz {
    private Npz() {}

    /**
     * Reads every array of an .npz file.
     *
     * @param file the file
     * @param manager owner of the arrays
     * @return arrays by name (entry name without {@code .npy}), in archive order
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is not a valid .npz
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) throws IOException {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                if (e.isDirectory()) {
                    continue;
                }
                String name = e.getName();
                if (!name.endsWith(".npy")) {
                    throw new FormatException(file + ": entry '" + name + "' is not an .npy array; an .npz holds only"
                            + " .npy entries");
                }
                String source = file + "[" + name + "]";
                try (InputStream in = new BufferedInputStream(zip.getInputStream(e), 1 << 16)) {
                    out.put(name.substring(0, name.length() - 4), Npy.read(in, manager, source));
                } catch (ZipException | java.io.EOFException ex) {
                    throw new FormatException(source + " is corrupt or truncated (" + ex.getMessage() + ")", ex);
                }
            }
        } catch (ZipException e) {
            out.values().forEach(NDArray::close);
            throw new FormatException(file + " is not a readable .npz (zip) archive: " + e.getMessage()
                    + " (truncated or corrupt?)", e);
        } catch (RuntimeException | IOException e) {
            out.values().forEach(NDArray::close);
            throw e;
        }
        if (out.isEmpty()) {
            throw new FormatException(file + " is an empty .npz archive: it holds no arrays");
        }
        return out;
    }

    /**
     * Writes arrays as an .npz archive, atomically.
     *
     * @param file destination
     * @param arrays arrays by name ({@code .npy} is appended to each entry name)
     * @param compressed deflate the entries ({@code np.savez_compressed}) instead of storing them ({@code np.savez})
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, Map<String, NDArray> arrays, boolean compressed) throws IOException {
        AtomicFiles.write(file, raw -> {
            try (ZipOutputStream zip = new ZipOutputStream(raw)) {
                for (Map.Entry<String, NDArray> a : arrays.entrySet()) {
                    byte[] header = Npy.header(a.getValue());
                    ByteBuffer data = a.getValue().size() == 0 ? ByteBuffer.allocate(0)
                            : a.getValue().toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    ZipEntry entry = new ZipEntry(a.getKey() + ".npy");
                    if (compressed) {
                        entry.setMethod(ZipEntry.DEFLATED);
                    } else {
                        // STORED entries need their size and CRC before the data (as np.savez writes them).
                        CRC32 crc = new CRC32();
                        crc.update(header);
                        crc.update(data.duplicate());
                        entry.setMethod(ZipEntry.STORED);
                        entry.setSize(header.length + (long) data.remaining());
                        entry.setCompressedSize(entry.getSize());
                        entry.setCrc(crc.getValue());
                    }
                    zip.putNextEntry(entry);
                    zip.write(header);
                    WritableByteChannel ch = Channels.newChannel(zip);
                    while (data.hasRemaining()) {
                        ch.write(data);
                    }
                    zip.closeEntry();
                }
                zip.finish();
            }
        });
    }
}
