package dev.qncd.eval.metrics;

import java.util.stream.IntStream;

/**
 * Splits a loop over rows into contiguous chunks run on the common fork-join pool (all cores).
 * Chunks are balanced by work, not by row count, for loops over a triangle.
 */
final class Parallel {
    /** Below this much work (multiply-adds) a loop runs on the calling thread. */
    static final long MIN_PARALLEL_WORK = 1L << 15;

    private Parallel() {}

    /** A loop body over the rows {@code [from, to)}. */
    @FunctionalInterface
    interface RangeBody {
        void run(int chunk, int from, int to);
    }

    /** @return the number of chunks loops use (one per core) */
    static int chunks() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Runs {@code body} over {@code [from, to)} split into {@link #chunks()} parts of equal row count.
     *
     * @param work total multiply-adds, to decide whether threads pay off
     */
    static void rows(int from, int to, long work, RangeBody body) {
        int parts = work < MIN_PARALLEL_WORK ? 1 : Math.min(chunks(), Math.max(1, to - from));
        if (parts == 1) {
            body.run(0, from, to);
            return;
        }
        int[] bounds = new int[parts + 1];
        for (int c = 0; c <= parts; c++) {
            bounds[c] = from + (int) ((long) (to - from) * c / parts);
        }
        IntStream.range(0, parts).parallel().forEach(c -> body.run(c, bounds[c], bounds[c + 1]));
    }

    /**
     * Runs {@code body} over rows {@code [from, to)} of a lower triangle (row i costs about i - from + 1),
     * split into chunks of equal area.
     */
    static void triangleRows(int from, int to, RangeBody body) {
        long m = to - from;
        int parts = m * m / 2 < MIN_PARALLEL_WORK ? 1 : (int) Math.min(chunks(), m);
        if (parts == 1) {
            body.run(0, from, to);
            return;
        }
        int[] bounds = new int[parts + 1];
        bounds[parts] = to;
        for (int c = 1; c < parts; c++) {
            bounds[c] = from + (int) Math.round(m * Math.sqrt((double) c / parts));
        }
        bounds[0] = from;
        IntStream.range(0, parts).parallel().forEach(c -> body.run(c, bounds[c], bounds[c + 1]));
    }

    /** Dot product of {@code a[ai..ai+len)} and {@code b[bi..bi+len)} with four accumulators. */
    static double dot(double[] a, int ai, double[] b, int bi, int len) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int k = 0;
        for (; k + 3 < len; k += 4) {
            s0 += a[ai + k] * b[bi + k];
            s1 += a[ai + k + 1] * b[bi + k + 1];
            s2 += a[ai + k + 2] * b[bi + k + 2];
            s3 += a[ai + k + 3] * b[bi + k + 3];
        }
        for (; k < len; k++) {
            s0 += a[ai + k] * b[bi + k];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
