package dev.qncd.core;

/** A file that cannot be read: corrupt, truncated, of an unsupported format, or unsafe to load. */
public class FormatException extends QncdException {
    private static final long serialVersionUID = 1L;

    /** @param message names the file, what is wrong in it, and what to do */
    public FormatException(String message) {
        super(message);
    }

    /**
     * @param message names the file, what is wrong in it, and what to do
     * @param cause the underlying error
     */
    public FormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
