package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import dev.qncd.core.util.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * numpy's {@code .npy} format: read versions 1.0, 2.0 and 3.0, write 1.0 (2.0 when the header needs
 * more than 64 KiB); little-endian element types of {@link ElementType} (not bfloat16, which numpy
 * lacks; int16 is read as INT32, which DJL's PyTorch engine needs, see {@link DjlTypes}); C order
 * written, Fortran order read and returned in C order; 0-d and empty arrays.
 *
 * <p>Data moves in bulk: the file is read straight into a direct buffer that the new array wraps, and
 * written from the array's memory in 1 MiB chunks.
 */
public final class Npy {

    private static final int CHUNK = 1 << 20;

    private Npy() {}

    /**
     * Reads a {@code .npy} file.
     *
     * @param file the file
     * @param manager owns the array
     * @return the array in C order with the stored element type
     * @throws FormatException when the file is malformed, truncated, or holds an unsupported dtype
     *     (object arrays, big-endian, complex, structured)
     * @throws QncdException when the file cannot be read
     */
    public static NDArray read(Path file, NDManager manager) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            // Channels.newInputStream does not read ahead, so the data starts where the header ends
            NpyHeader h = readHeader(Channels.newInputStream(ch), file.toString());
            long bytes = dataBytes(h, file.toString());
            // never allocate more than the file holds: a corrupt shape must not exhaust memory
            long present = Math.min(bytes, ch.size() - ch.position());
            return toArray(h, DirectBuffers.read(ch, present), bytes, manager, file.toString());
        } catch (IOException e) {
            throw ioError(file, e);
        }
    }

    /**
     * Reads one {@code .npy} array from a stream (e.g. a zip entry); the stream is left after the data.
     *
     * @param in the stream
     * @param manager owns the array
     * @return the array in C order with the stored element type
     * @throws FormatException when the data is malformed, truncated, or of an unsupported dtype
     * @throws QncdException when the stream cannot be read
     */
    public static NDArray read(InputStream in, NDManager manager) {
        return read(in, manager, "<stream>", -1);
    }

    /**
     * {@link #read(InputStream, NDManager)} naming the source in messages.
     *
     * @param length the stream's length when known (bounds the allocation), else -1
     */
    static NDArray read(InputStream in, NDManager manager, String source, long length) {
        try {
            CountingInputStream counted = new CountingInputStream(in, length < 0 ? Long.MAX_VALUE : length);
            NpyHeader h = readHeader(counted, source);
            long bytes = dataBytes(h, source);
            long present = Math.min(bytes, counted.remaining());
            return toArray(h, DirectBuffers.read(counted, present), bytes, manager, source);
        } catch (IOException e) {
            throw new FormatException(source + ": cannot read the .npy data (" + e + "); it may be truncated: "
                    + "re-create the file with numpy.save", e);
        }
    }

    /**
     * Writes an array as {@code .npy} (C order, little-endian), atomically.
     *
     * @param file the target; parent directories are created
     * @param array the array (any layout; bfloat16 is refused, numpy has no such type)
     * @throws FormatException when the element type has no numpy equivalent
     * @throws QncdException when the file cannot be written
     */
    public static void write(Path file, NDArray array) {
        NpyHeader h = header(array, file.toString());
        try {
            AtomicFiles.write(file, out -> write(out, array, h));
        } catch (IOException e) {
            throw new QncdException(file + ": cannot write (" + e + "); check that the directory is writable "
                    + "and the disk has space", e);
        }
    }

    /**
     * Writes an array as {@code .npy} to a stream (not closed).
     *
     * @param out the stream
     * @param array the array
     * @throws IOException when writing fails
     * @throws FormatException when the element type has no numpy equivalent
     */
    public static void write(OutputStream out, NDArray array) throws IOException {
        write(out, array, header(array, "array"));
    }

    static NpyHeader header(NDArray array, String target) {
        ElementType type = ElementType.of(array.getDataType());
        if (type == ElementType.BF16) {
            throw new FormatException("cannot write " + target + ": numpy has no bfloat16 type; convert the array "
                    + "to float32 first (array.toType(DataType.FLOAT32, false))");
        }
        return new NpyHeader(type, false, array.getShape().getShape());
    }

    static void write(OutputStream out, NDArray array, NpyHeader h) throws IOException {
        out.write(h.encode());
        if (array.size() == 0) {
            return;
        }
        ByteBuffer data = array.toByteBuffer(true).duplicate();
        byte[] chunk = new byte[Math.min(CHUNK, data.remaining())];
        while (data.hasRemaining()) {
            int n = Math.min(chunk.length, data.remaining());
            data.get(chunk, 0, n);
            out.write(chunk, 0, n);
        }
    }

    static NpyHeader readHeader(InputStream in, String source) throws IOException {
        byte[] pre = in.readNBytes(8);
        if (pre.length < 8) {
            throw new FormatException(source + ": truncated .npy file (" + pre.length + " bytes); re-create it with numpy.save");
        }
        if (!Arrays.equals(Arrays.copyOf(pre, 6), NpyHeader.MAGIC)) {
            throw new FormatException(source + ": not a .npy file (the magic string \\x93NUMPY is missing); "
                    + "pass a file written by numpy.save");
        }
        int major = pre[6] & 0xff;
        if (major < 1 || major > 3) {
            throw new FormatException(source + ": unsupported .npy format version " + major + "." + (pre[7] & 0xff)
                    + " (1.0, 2.0, 3.0 are read); re-save the array with numpy.save");
        }
        int lenBytes = major == 1 ? 2 : 4;
        byte[] len = in.readNBytes(lenBytes);
        if (len.length < lenBytes) {
            throw new FormatException(source + ": truncated .npy header; re-create the file with numpy.save");
        }
        long headerLen = 0;
        for (int i = lenBytes - 1; i >= 0; i--) {
            headerLen = headerLen << 8 | (len[i] & 0xff);
        }
        if (headerLen > NpyHeader.MAX_HEADER) {
            throw new FormatException(source + ": the .npy header claims " + headerLen + " bytes; the file is "
                    + "corrupt: re-create it with numpy.save");
        }
        byte[] text = in.readNBytes((int) headerLen);
        if (text.length < headerLen) {
            throw new FormatException(source + ": truncated .npy header (" + text.length + " of " + headerLen
                    + " bytes); re-create the file with numpy.save");
        }
        return NpyHeader.parse(new String(text, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1),
                source);
    }

    private static long dataBytes(NpyHeader h, String source) {
        try {
            long bytes = Math.multiplyExact(StridedCopy.numel(h.shape()), (long) h.type().bytes());
            if (bytes > Integer.MAX_VALUE - 8) {
                throw new FormatException(source + ": an array of " + bytes + " bytes exceeds the 2 GiB qncd reads "
                        + "in one piece; split it into several arrays");
            }
            return bytes;
        } catch (ArithmeticException e) {
            throw new FormatException(source + ": bad .npy shape " + Arrays.toString(h.shape()), e);
        }
    }

    private static NDArray toArray(NpyHeader h, ByteBuffer data, long bytes, NDManager manager, String source) {
        long[] shape = h.shape();
        if (data.limit() < bytes) {
            throw new FormatException(source + ": truncated: the data has " + data.limit() + " bytes, shape "
                    + TensorFactory.shapeString(shape) + " of " + h.type().numpyDescr() + " needs " + bytes
                    + "; re-create the file with numpy.save");
        }
        long numel = StridedCopy.numel(shape);
        if (bytes == 0) {
            return manager.zeros(new Shape(shape), DjlTypes.dataType(h.type()));
        }
        if (!h.fortranOrder() || shape.length < 2) {
            return manager.create(DjlTypes.toArrayLayout(data, h.type(), numel), new Shape(shape),
                    DjlTypes.dataType(h.type()));
        }
        // Fortran order: element (i0, i1, ...) sits at i0 + s0*i1 + s0*s1*i2 ...
        long[] stride = new long[shape.length];
        long s = 1;
        for (int d = 0; d < shape.length; d++) {
            stride[d] = s;
            s *= shape[d];
        }
        ByteBuffer c = DirectBuffers.allocate(bytes);
        StridedCopy.gather(data, 0, shape, stride, h.type().bytes(), c);
        return manager.create(DjlTypes.toArrayLayout(c, h.type(), numel), new Shape(shape), DjlTypes.dataType(h.type()));
    }

    static QncdException ioError(Path file, IOException e) {
        if (e instanceof NoSuchFileException) {
            return new QncdException(file + ": no such file; check the path", e);
        }
        if (e instanceof AccessDeniedException) {
            return new QncdException(file + ": permission denied; make the file readable", e);
        }
        return new FormatException(file + ": cannot read (" + e + "); the file may be damaged: re-create it", e);
    }
}
