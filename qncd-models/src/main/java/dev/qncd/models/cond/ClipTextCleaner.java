package dev.qncd.models.cond;

import java.text.Normalizer;
import java.util.regex.Pattern;

/**
 * The text clean-up HuggingFace's {@code CLIPTokenizer} applies before splitting (with ftfy installed,
 * as in the latent-diffusion / Stable Diffusion environments): {@code whitespace_clean(ftfy.fix_text(text)).lower()}.
 *
 * <p>{@code ftfy.fix_text} is reproduced for its deterministic, table-driven fixers, in ftfy's order:
 * C1 control characters read as Windows-1252 ({@code fix_c1_controls}), Latin ligatures
 * ({@code fix_latin_ligatures}), fullwidth/halfwidth forms and U+3000 ({@code fix_character_width}), curly
 * quotes ({@code uncurl_quotes}), lone surrogates to U+FFFD ({@code fix_surrogates}), ANSI terminal
 * escapes ({@code remove_terminal_escapes}), invisible control characters ({@code remove_control_chars}),
 * then NFC, repeated until nothing changes. Not reproduced: the heuristic mojibake repair
 * ({@code fix_encoding}) and HTML entity decoding ({@code unescape_html}): text that needs them
 * tokenizes as written. Line-break normalisation is subsumed by the whitespace clean-up.
 *
 * <p>{@code whitespace_clean} replaces every run of Python whitespace ({@code str.isspace}) by one
 * space and strips; {@code lower} is Unicode lower-casing.
 */
public final class ClipTextCleaner {
    private static final Pattern ANSI = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");
    /** Windows-1252 for the bytes 0x80..0x9F; the five undefined ones stay themselves (ftfy's sloppy codec). */
    private static final char[] CP1252_C1 = {
        '\u20ac', '\u0081', '\u201a', '\u0192', '\u201e', '\u2026', '\u2020', '\u2021',
        '\u02c6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008d', '\u017d', '\u008f',
        '\u0090', '\u2018', '\u2019', '\u201c', '\u201d', '\u2022', '\u2013', '\u2014',
        '\u02dc', '\u2122', '\u0161', '\u203a', '\u0153', '\u009d', '\u017e', '\u0178'};

    private ClipTextCleaner() {}

    /**
     * @param text a prompt
     * @return the text the CLIP regex splits: fixed, whitespace-cleaned, lower-cased
     */
    public static String clean(String text) {
        return whitespaceClean(fixText(text)).toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The reproduced part of {@code ftfy.fix_text} (see the class comment).
     *
     * @param text any text
     * @return the fixed text
     */
    public static String fixText(String text) {
        String cur = text;
        for (int i = 0; i < 16; i++) {
            String next = fixOnce(cur);
            if (next.equals(cur)) {
                return next;
            }
            cur = next;
        }
        return cur;
    }

    private static String fixOnce(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        // fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_surrogates: each maps
        // single characters, and no output of one is an input of a later one except through uncurl_quotes
        // (a C1 quote becomes a curly quote, then straight), which is applied last per character.
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                sb.append(c).append(text.charAt(i + 1));
                i++;
                continue;
            }
            if (Character.isSurrogate(c)) {
                sb.append('\ufffd');
                continue;
            }
            String s = c >= 0x80 && c <= 0x9f ? String.valueOf(CP1252_C1[c - 0x80]) : String.valueOf(c);
            s = ligature(s);
            s = width(s);
            sb.append(uncurl(s));
        }
        String t = ANSI.matcher(sb).replaceAll("");
        StringBuilder out = new StringBuilder(t.length());
        t.codePoints().filter(cp -> !isRemovedControl(cp)).forEach(out::appendCodePoint);
        return Normalizer.normalize(out, Normalizer.Form.NFC);
    }

    private static String ligature(String s) {
        return switch (s) {
            case "\u0132" -> "IJ";
            case "\u0133" -> "ij";
            case "\u0149" -> "\u02bcn";
            case "\u01f1" -> "DZ";
            case "\u01f2" -> "Dz";
            case "\u01f3" -> "dz";
            case "\u01c4" -> "D\u017d";
            case "\u01c5" -> "D\u017e";
            case "\u01c6" -> "d\u017e";
            case "\u01c7" -> "LJ";
            case "\u01c8" -> "Lj";
            case "\u01c9" -> "lj";
            case "\u01ca" -> "NJ";
            case "\u01cb" -> "Nj";
            case "\u01cc" -> "nj";
            case "\ufb00" -> "ff";
            case "\ufb01" -> "fi";
            case "\ufb02" -> "fl";
            case "\ufb03" -> "ffi";
            case "\ufb04" -> "ffl";
            case "\ufb05" -> "\u017ft";
            case "\ufb06" -> "st";
            default -> s;
        };
    }

    private static String width(String s) {
        if (s.length() != 1) {
            return s;
        }
        char c = s.charAt(0);
        if (c == '\u3000') {
            return " ";
        }
        if (c >= 0xff01 && c < 0xfff0) {
            return Normalizer.normalize(s, Normalizer.Form.NFKC);
        }
        return s;
    }

    private static String uncurl(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            char r = c == '\u02bc' || (c >= '\u2018' && c <= '\u201b') ? '\'' : (c >= '\u201c' && c <= '\u201f') ? '"' : c;
            if (r != c && sb == null) {
                sb = new StringBuilder(s);
            }
            if (sb != null) {
                sb.setCharAt(i, r);
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** ftfy's CONTROL_CHARS: U+0000–0008, 000B, 000E–001F, 007F, 206A–206F, FEFF, FFF9–FFFC. */
    private static boolean isRemovedControl(int cp) {
        return cp <= 0x08 || cp == 0x0b || (cp >= 0x0e && cp <= 0x1f) || cp == 0x7f || (cp >= 0x206a && cp <= 0x206f)
                || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffc);
    }

    /**
     * {@code whitespace_clean}: runs of whitespace to one space, then strip.
     *
     * @param text any text
     * @return the cleaned text
     */
    public static String whitespaceClean(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        boolean pendingSpace = false;
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (isPythonSpace(cp)) {
                pendingSpace = true;
            } else {
                if (pendingSpace && sb.length() > 0) {
                    sb.append(' ');
                }
                pendingSpace = false;
                sb.appendCodePoint(cp);
            }
        }
        return sb.toString();
    }

    /**
     * @param cp a code point
     * @return Python's {@code str.isspace}: bidirectional class WS, B or S, or category Zs
     */
    static boolean isPythonSpace(int cp) {
        return cp == 0x85 || Character.isWhitespace(cp) || Character.isSpaceChar(cp);
    }
}
