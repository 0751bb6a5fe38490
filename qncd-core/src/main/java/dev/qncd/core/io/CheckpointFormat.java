package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/** The tensor file formats qncd reads, recognised by content (not by file name). */
public enum CheckpointFormat {
    /** safetensors: 8-byte header length, JSON header, raw data. */
    SAFETENSORS,
    /** {@code torch.save} zip archive (PyTorch 1.6 and later). */
    TORCH_ZIP,
    /** {@code torch.save} legacy format (sequential pickles, before PyTorch 1.6). */
    TORCH_LEGACY,
    /** numpy {@code .npz}: a zip of {@code .npy} files. */
    NPZ,
    /** numpy {@code .npy}: one array. */
    NPY;

    /**
     * Recognises a file's format from its first bytes (and, for zip archives, its entry names).
     *
     * @param file the file
     * @return its format
     * @throws IOException when the file cannot be read
     * @throws FormatException when the format is not one of these
     */
    public static CheckpointFormat detect(Path file) throws IOException {
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return detectZip(file);
        }
        if (n >= 6 && (head[0] & 0xff) == 0x93 && head[1] == 'N' && head[2] == 'U' && head[3] == 'M'
                && head[4] == 'P' && head[5] == 'Y') {
            return NPY;
        }
        // safetensors before pickle: a header length such as 0x0280 starts with the bytes 80 02.
        if (n >= 9) {
            long len = ByteBuffer.wrap(head, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (len > 0 && len < (100L << 20) && head[8] == '{') {
                return SAFETENSORS;
            }
        }
        // A legacy torch.save file starts with the pickled magic number: PROTO n, LONG1 (0x8a).
        if (n >= 3 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5 && (head[2] & 0xff) == 0x8a) {
            return TORCH_LEGACY;
        }
        throw new FormatException(file + ": unrecognised file format"
                + (n == 0 ? " (the file is empty)" : "")
                + ": expected safetensors, a torch.save checkpoint (.ckpt/.pth/.pt), .npz or .npy");
    }

    private static CheckpointFormat detectZip(Path file) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            boolean npy = false;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                String name = en.nextElement().getName();
                if (name.endsWith("/data.pkl") || name.equals("data.pkl")) {
                    return TORCH_ZIP;
                }
                npy |= name.endsWith(".npy");
            }
            if (npy) {
                return NPZ;
            }
        } catch (ZipException e) {
            throw new FormatException(file + " is a corrupt or truncated zip archive (" + e.getMessage()
                    + "): re-create or re-download it", e);
        }
        throw new FormatException(file + " is a zip archive but neither a torch.save checkpoint (no data.pkl)"
                + " nor an .npz (no .npy entries)");
    }
}
