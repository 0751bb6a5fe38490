package dev.qncd.core.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * An input stream that knows its position and its total length, so that length fields read from a
 * file can be checked against what is left before anything is allocated.
 */
final class CountingInputStream extends FilterInputStream {
    private final long length;
    private long position;

    /**
     * @param in the stream (buffer it: the unpickler reads byte by byte)
     * @param length the total number of bytes the stream holds
     */
    CountingInputStream(InputStream in, long length) {
        super(in);
        this.length = length;
    }

    /** @return bytes read or skipped so far */
    long position() {
        return position;
    }

    /** @return bytes left before the end of the stream */
    long remaining() {
        return Math.max(0, length - position);
    }

    @Override
    public int read() throws IOException {
        int b = super.read();
        if (b >= 0) {
            position++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = super.read(b, off, len);
        if (n > 0) {
            position += n;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        long s = super.skip(n);
        if (s > 0) {
            position += s;
        }
        return s;
    }

    @Override
    public boolean markSupported() {
        return false;
    }
}
