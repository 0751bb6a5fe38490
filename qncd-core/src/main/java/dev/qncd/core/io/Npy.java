package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import dev.qncd.core.util.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The numpy {@code .npy} format (format versions 1.0, 2.0 and 3.0): magic {@code \x93NUMPY}, version,
 * header length (2 bytes in 1.0, 4 bytes later), a Python-dict header
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded to 64 bytes, then the data.
 *
 * <p>Reads little-endian arrays of the types of {@link ElementType} in C or Fortran order (Fortran
 * order is transposed into a C-order tensor); writes C order, version 1.0 (2.0 when the header needs
 * more than 65535 bytes). Data moves in bulk (no per-element loops), so a 150 MB image batch reads at
 * disk speed.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {}

    /**
     * The parsed header of an .npy stream.
     *
     * @param type element type
     * @param fortranOrder whether the data is in column-major order
     * @param shape dimensions
     */
    public record Header(ElementType type, boolean fortranOrder, long[] shape) {
        /** @return number of elements */
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /**
     * Reads an .npy file.
     *
     * @param file the file
     * @param manager owner of the array
     * @return the array (C order; bfloat16 never occurs, int16 is widened to int32, see {@link TensorBuffers})
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is not a valid .npy file
     */
    public static NDArray read(Path file, NDManager manager) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, manager, file.toString());
        }
    }

    /**
     * Reads one .npy array from a stream (e.g. an .npz entry).
     *
     * @param in the stream, positioned at the magic string; read up to the end of the array
     * @param manager owner of the array
     * @param source the name used in error messages
     * @return the array
     * @throws IOException when the stream cannot be read
     * @throws FormatException when it is not a valid .npy stream
     */
    public static NDArray read(InputStream in, NDManager manager, String source) throws IOException {
        Header h = readHeader(in, source);
        long bytes = Math.multiplyExact(h.numel(), (long) h.type().bytes());
        if (bytes > Integer.MAX_VALUE - 16) {
            throw new FormatException(source + ": array of " + bytes + " bytes is larger than 2 GB, which qncd"
                    + " cannot load as one array: split it into several files");
        }
        ByteBuffer data = ByteBuffer.allocateDirect((int) Math.max(bytes, 1)).order(ByteOrder.LITTLE_ENDIAN);
        data.limit((int) bytes);
        byte[] chunk = new byte[1 << 20];
        while (data.hasRemaining()) {
            int n = in.read(chunk, 0, Math.min(chunk.length, data.remaining()));
            if (n < 0) {
                throw new FormatException(source + " is truncated: the header announces " + bytes + " bytes of "
                        + h.type() + " data but only " + data.position() + " follow");
            }
            data.put(chunk, 0, n);
        }
        data.flip();
        if (!h.fortranOrder() || h.shape().length < 2) {
            return TensorBuffers.fromLittleEndian(manager, data, h.shape(), h.type());
        }
        long[] reversed = new long[h.shape().length];
        int[] axes = new int[reversed.length];
        for (int i = 0; i < reversed.length; i++) {
            reversed[i] = h.shape()[reversed.length - 1 - i];
            axes[i] = reversed.length - 1 - i;
        }
        try (NDArray colMajor = TensorBuffers.fromLittleEndian(manager, data, reversed, h.type())) {
            return colMajor.transpose(axes).duplicate();
        }
    }

    /**
     * Reads and validates an .npy header.
     *
     * @param in the stream, positioned at the magic string
     * @param source the name used in error messages
     * @return the header; the stream is left at the first data byte
     * @throws IOException when the stream cannot be read
     */
    public static Header readHeader(InputStream in, String source) throws IOException {
        byte[] pre = new byte[8];
        if (in.readNBytes(pre, 0, 8) < 8) {
            throw new FormatException(source + " is not an .npy file: shorter than the 8-byte preamble");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (pre[i] != MAGIC[i]) {
                throw new FormatException(source + " is not an .npy file: missing the \\x93NUMPY magic string");
            }
        }
        int major = pre[6];
        int lenBytes = switch (major) {
            case 1 -> 2;
            case 2, 3 -> 4;
            default -> throw new FormatException(source + ": unsupported .npy format version " + major + "." + pre[7]
                    + " (supported: 1.0, 2.0, 3.0)");
        };
        byte[] lenField = new byte[4];
        if (in.readNBytes(lenField, 0, lenBytes) < lenBytes) {
            throw new FormatException(source + " is truncated inside the .npy preamble");
        }
        long headerLen = ByteBuffer.wrap(lenField).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
        if (headerLen > (1 << 24)) {
            throw new FormatException(source + ": .npy header length " + headerLen + " is implausible (corrupt file)");
        }
        byte[] hb = new byte[(int) headerLen];
        if (in.readNBytes(hb, 0, hb.length) < hb.length) {
            throw new FormatException(source + " is truncated inside the .npy header");
        }
        String header = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher sh = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !sh.find()) {
            throw new FormatException(source + ": corrupt .npy header (needs 'descr', 'fortran_order' and 'shape'): "
                    + header.trim());
        }
        String descr = d.group(1);
        if (descr.contains("O")) {
            throw new FormatException(source + " holds Python objects (dtype '" + descr + "'), which cannot be loaded"
                    + " without running code: save a numeric array instead");
        }
        ElementType type;
        try {
            type = ElementType.fromNumpy(descr);
        } catch (FormatException e) {
            throw new FormatException(source + ": " + e.getMessage(), e);
        }
        String dims = sh.group(1).trim();
        long[] shape;
        if (dims.isEmpty()) {
            shape = new long[0];
        } else {
            String[] parts = dims.split(",");
            int n = parts[parts.length - 1].isBlank() ? parts.length - 1 : parts.length;
            shape = new long[n];
            for (int i = 0; i < n; i++) {
                try {
                    shape[i] = Long.parseLong(parts[i].trim().replace("L", ""));
                } catch (NumberFormatException e) {
                    throw new FormatException(source + ": corrupt .npy shape (" + dims + ")", e);
                }
                if (shape[i] < 0) {
                    throw new FormatException(source + ": negative dimension in .npy shape (" + dims + ")");
                }
            }
        }
        return new Header(type, f.group(1).equals("True"), shape);
    }

    /**
     * Writes an array as an .npy file (C order, little-endian), atomically.
     *
     * @param file destination
     * @param array the array
     * @throws IOException when the file cannot be written
     */
    public static void write(Path file, NDArray array) throws IOException {
        AtomicFiles.write(file, out -> write(out, array));
    }

    /**
     * Writes an array in .npy format to a stream.
     *
     * @param out destination (not closed)
     * @param array the array
     * @throws IOException when writing fails
     */
    public static void write(OutputStream out, NDArray array) throws IOException {
        out.write(header(array));
        if (array.size() > 0) {
            ByteBuffer data = array.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            WritableByteChannel ch = Channels.newChannel(out);
            while (data.hasRemaining()) {
                ch.write(data);
            }
        }
    }

    /**
     * The .npy preamble and header of an array (what precedes its data).
     *
     * @param array the array
     * @return the bytes, a multiple of 64 long
     * @throws IOException never in practice (in-memory)
     */
    static byte[] header(NDArray array) throws IOException {
        ElementType type = ElementType.of(array.getDataType());
        StringBuilder shape = new StringBuilder("(");
        long[] dims = array.getShape().getShape();
        for (long d : dims) {
            shape.append(d).append(", ");
        }
        if (dims.length > 1) {
            shape.setLength(shape.length() - 2);
        } else if (dims.length == 1) {
            shape.setLength(shape.length() - 1);
        }
        shape.append(')');
        String dict = "{'descr': '" + type.numpyDescr() + "', 'fortran_order': False, 'shape': " + shape + ", }";
        // Pad with spaces and a final newline so that preamble + header is a multiple of 64 bytes.
        int version = dict.length() + 1 + 10 > 65535 ? 2 : 1;
        int preamble = version == 1 ? 10 : 12;
        int total = (preamble + dict.length() + 1 + 63) / 64 * 64;
        StringBuilder header = new StringBuilder(dict);
        while (preamble + header.length() + 1 < total) {
            header.append(' ');
        }
        header.append('\n');
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        head.write(MAGIC);
        head.write(version);
        head.write(0);
        int len = header.length();
        head.write(len & 0xff);
        head.write((len >>> 8) & 0xff);
        if (version == 2) {
            head.write((len >>> 16) & 0xff);
            head.write((len >>> 24) & 0xff);
        }
        head.write(header.toString().getBytes(StandardCharsets.ISO_8859_1));
        return head.toByteArray();
    }
}
