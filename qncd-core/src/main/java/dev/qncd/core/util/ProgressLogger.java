package dev.qncd.core.util;

import org.slf4j.Logger;

/**
 * Logs progress of long work with rate and ETA, at most every few seconds (and always at the end):
 * {@code sampling: 120/400 steps (30%), 3.1 steps/s, ETA 1m30s}.
 */
public final class ProgressLogger {
    private final Logger log;
    private final String what;
    private final String unit;
    private final long total;
    private final long intervalNanos;
    private final long start = System.nanoTime();
    private long lastLog;

    /**
     * @param log where to log
     * @param what the task, e.g. {@code sampling}
     * @param unit the unit, e.g. {@code steps}
     * @param total units in all
     * @param intervalSeconds minimum seconds between two lines
     */
    public ProgressLogger(Logger log, String what, String unit, long total, double intervalSeconds) {
        this.log = log;
        this.what = what;
        this.unit = unit;
        this.total = total;
        this.intervalNanos = (long) (intervalSeconds * 1e9);
        this.lastLog = start;
    }

    /** @param done units done so far */
    public void update(long done) {
        long now = System.nanoTime();
        if (done < total && now - lastLog < intervalNanos) {
            return;
        }
        lastLog = now;
        double secs = (now - start) / 1e9;
        double rate = done / Math.max(secs, 1e-9);
        long eta = rate > 0 ? Math.round((total - done) / rate) : -1;
        log.info("{}: {}/{} {} ({}%), {} {}/s, {} {}", what, done, total, unit, total == 0 ? 100 : done * 100 / total,
                String.format("%.2f", rate), unit, done >= total ? "took" : "ETA",
                duration(done >= total ? Math.round(secs) : eta));
    }

    /** @return seconds since construction */
    public double elapsedSeconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * @param seconds a duration
     * @return e.g. {@code 1h02m}, {@code 3m05s}, {@code 42s}
     */
    public static String duration(long seconds) {
        if (seconds < 0) {
            return "?";
        }
        if (seconds >= 3600) {
            return String.format("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
        }
        if (seconds >= 60) {
            return String.format("%dm%02ds", seconds / 60, seconds % 60);
        }
        return seconds + "s";
    }
}
