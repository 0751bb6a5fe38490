package dev.qncd.core;

/**
 * An error caused by the user's input (a file, a flag, a config) rather than by a bug.
 *
 * <p>The message must name the problem and the fix, e.g. {@code missing key
 * down.0.block.0.conv1.weight in model.ckpt: pass the checkpoint of the same config}. The CLI maps
 * this type (and its subclasses) to a short message and a non-zero exit code without a stack trace.
 */
public class QncdException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong and how to fix it */
    public QncdException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong and how to fix it
     * @param cause the underlying error
     */
    public QncdException(String message, Throwable cause) {
        super(message, cause);
    }
}
