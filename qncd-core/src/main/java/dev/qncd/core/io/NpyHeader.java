package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a {@code .npy} file: the Python dict literal {@code {'descr': '<f4', 'fortran_order':
 * False, 'shape': (3, 4), }} after the magic string, the version and the header length.
 *
 * @param type the element type
 * @param fortranOrder whether the data is stored column-major
 * @param shape sizes per dimension (empty for a 0-d array)
 */
record NpyHeader(ElementType type, boolean fortranOrder, long[] shape) {

    /** {@code \x93NUMPY}. */
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** Longest header accepted (numpy itself refuses more than 10000 characters by default). */
    static final int MAX_HEADER = 1 << 20;

    /**
     * Parses the header dict.
     *
     * @param text the dict literal
     * @param source the file, for messages
     * @return the header
     * @throws FormatException when the dict is malformed or names an unsupported dtype
     */
    static NpyHeader parse(String text, String source) {
        Object parsed;
        try {
            parsed = new Parser(text).parseTop();
        } catch (IllegalArgumentException e) {
            throw new FormatException(source + ": bad .npy header (" + e.getMessage() + "): " + text.strip()
                    + "; re-save the array with numpy.save", e);
        }
        if (!(parsed instanceof Map<?, ?> dict)) {
            throw new FormatException(source + ": bad .npy header (not a dict): " + text.strip()
                    + "; re-save the array with numpy.save");
        }
        Object descr = dict.get("descr");
        Object fortran = dict.get("fortran_order");
        Object shape = dict.get("shape");
        if (descr instanceof List) {
            throw new FormatException(source + ": structured numpy arrays (dtype " + descr + ") are not supported; "
                    + "save each field as its own array");
        }
        if (!(descr instanceof String d) || !(fortran instanceof Boolean f) || !(shape instanceof List<?> dims)) {
            throw new FormatException(source + ": bad .npy header (needs 'descr', 'fortran_order' and 'shape'): "
                    + text.strip() + "; re-save the array with numpy.save");
        }
        if (d.equals("|O") || d.endsWith("O") || d.endsWith("O8")) {
            throw new FormatException(source + ": an object array (dtype " + d + ") holds pickled Python objects, "
                    + "which qncd never loads; save a numeric array instead, e.g. np.save(path, arr.astype(np.float32))");
        }
        ElementType type;
        try {
            type = ElementType.fromNumpy(d);
        } catch (FormatException e) {
            throw new FormatException(source + ": " + e.getMessage(), e);
        }
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) {
            if (!(dims.get(i) instanceof Long n) || n < 0) {
                throw new FormatException(source + ": bad .npy header (shape " + shape + "); re-save the array with numpy.save");
            }
            s[i] = n;
        }
        return new NpyHeader(type, f, s);
    }

    /**
     * @return the header dict numpy writes, e.g. {@code {'descr': '<f4', 'fortran_order': False,
     *     'shape': (3,), }} (without padding)
     */
    String format() {
        StringBuilder sb = new StringBuilder("{'descr': '").append(type.numpyDescr())
                .append("', 'fortran_order': ").append(fortranOrder ? "True" : "False").append(", 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        if (shape.length == 1) {
            sb.append(',');
        }
        return sb.append("), }").toString();
    }

    /**
     * Encodes the full preamble: magic, version 1.0 (or 2.0 when the header exceeds 65535 bytes),
     * header length, the header padded with spaces and a newline to a multiple of 64 bytes.
     *
     * @return the bytes before the data
     */
    byte[] encode() {
        byte[] dict = format().getBytes(StandardCharsets.US_ASCII);
        int v1 = MAGIC.length + 2 + 2;
        int total = pad(v1 + dict.length + 1);
        boolean version2 = total - v1 > 0xffff;
        int prefix = version2 ? MAGIC.length + 2 + 4 : v1;
        total = pad(prefix + dict.length + 1);
        int headerLen = total - prefix;
        byte[] out = new byte[total];
        System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
        out[6] = (byte) (version2 ? 2 : 1);
        out[7] = 0;
        int p = 8;
        out[p++] = (byte) headerLen;
        out[p++] = (byte) (headerLen >>> 8);
        if (version2) {
            out[p++] = (byte) (headerLen >>> 16);
            out[p++] = (byte) (headerLen >>> 24);
        }
        System.arraycopy(dict, 0, out, p, dict.length);
        for (int i = p + dict.length; i < total - 1; i++) {
            out[i] = ' ';
        }
        out[total - 1] = '\n';
        return out;
    }

    private static int pad(int n) {
        return (n + 63) / 64 * 64;
    }

    /** A parser for the Python literals a header holds: dicts, tuples, lists, strings, ints, booleans. */
    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        Object parseTop() {
            Object v = value();
            skipSpace();
            if (pos != s.length()) {
                throw new IllegalArgumentException("unexpected '" + s.charAt(pos) + "' at " + pos);
            }
            return v;
        }

        private Object value() {
            skipSpace();
            if (pos >= s.length()) {
                throw new IllegalArgumentException("unexpected end");
            }
            char c = s.charAt(pos);
            if (c == '{') {
                pos++;
                Map<Object, Object> m = new LinkedHashMap<>();
                while (true) {
                    skipSpace();
                    if (peek('}')) {
                        return m;
                    }
                    Object k = value();
                    skipSpace();
                    expect(':');
                    m.put(k, value());
                    skipSpace();
                    if (!peek(',')) {
                        skipSpace();
                        expect('}');
                        return m;
                    }
                }
            }
            if (c == '(' || c == '[') {
                char close = c == '(' ? ')' : ']';
                pos++;
                List<Object> l = new ArrayList<>();
                while (true) {
                    skipSpace();
                    if (peek(close)) {
                        return l;
                    }
                    l.add(value());
                    skipSpace();
                    if (!peek(',')) {
                        skipSpace();
                        expect(close);
                        return l;
                    }
                }
            }
            if (c == '\'' || c == '"') {
                int end = s.indexOf(c, pos + 1);
                if (end < 0) {
                    throw new IllegalArgumentException("unterminated string at " + pos);
                }
                String v = s.substring(pos + 1, end);
                pos = end + 1;
                return v;
            }
            int start = pos;
            while (pos < s.length() && (Character.isLetterOrDigit(s.charAt(pos)) || s.charAt(pos) == '-')) {
                pos++;
            }
            String word = s.substring(start, pos);
            switch (word) {
                case "True":
                    return Boolean.TRUE;
                case "False":
                    return Boolean.FALSE;
                case "None":
                    return null;
                default:
                    break;
            }
            String digits = word.endsWith("L") ? word.substring(0, word.length() - 1) : word;
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("unexpected '" + (word.isEmpty() ? String.valueOf(c) : word)
                        + "' at " + start);
            }
        }

        private void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        private boolean peek(char c) {
            if (pos < s.length() && s.charAt(pos) == c) {
                pos++;
                return true;
            }
            return false;
        }

        private void expect(char c) {
            if (!peek(c)) {
                throw new IllegalArgumentException("expected '" + c + "' at " + pos);
            }
        }
    }
}
