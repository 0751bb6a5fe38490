package dev.qncd.models.nn;

import dev.qncd.core.QncdException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A glob rule on dotted layer paths, used to select layers by name (e.g. for quantization presets)
 * instead of by index: within a segment {@code *} matches any characters except the dot and {@code ?}
 * one such character; a whole segment {@code **} matches any number of segments, including none.
 * Examples on the DDIM UNet: {@code up.*.block.*.conv1} (every decoder conv1), {@code **.temb_proj}
 * (every time-embedding projection), {@code down.0.**} (everything in the first level),
 * {@code conv_in}. A rule matches whole paths only.
 */
public final class PathGlob {
    private static final String ANY_SEGMENTS = "**";
    private final String glob;
    /** One regex per segment, null for {@code **}. */
    private final Pattern[] segments;

    private PathGlob(String glob, Pattern[] segments) {
        this.glob = glob;
        this.segments = segments;
    }

    /**
     * @param glob the rule, e.g. {@code up.*.block.*.conv1}
     * @return the compiled rule
     * @throws QncdException for an empty rule, an empty segment (two dots, leading or trailing dot) or a
     *     {@code **} inside a segment
     */
    public static PathGlob compile(String glob) {
        if (glob == null || glob.isBlank()) {
            throw new QncdException("empty layer rule: give a dotted path such as up.*.block.*.conv1");
        }
        String[] parts = glob.split("\\.", -1);
        Pattern[] segments = new Pattern[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String s = parts[i];
            if (s.isEmpty()) {
                throw new QncdException("layer rule '" + glob + "' has an empty segment: separate names by single"
                        + " dots, e.g. up.*.block.*.conv1");
            }
            if (s.equals(ANY_SEGMENTS)) {
                segments[i] = null;
            } else if (s.contains(ANY_SEGMENTS)) {
                throw new QncdException("layer rule '" + glob + "': '**' must be a whole segment (as in down.0.**)");
            } else {
                segments[i] = Pattern.compile(segmentRegex(s));
            }
        }
        return new PathGlob(glob, segments);
    }

    private static String segmentRegex(String s) {
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '*' || c == '?') {
                if (literal.length() > 0) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(c == '*' ? "[^.]*" : "[^.]");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            re.append(Pattern.quote(literal.toString()));
        }
        return re.toString();
    }

    /**
     * @param path a dotted layer path, e.g. {@code up.1.block.2.conv1}
     * @return whether the whole path matches
     */
    public boolean matches(String path) {
        return path != null && matches(path.split("\\.", -1), 0, 0);
    }

    private boolean matches(String[] path, int p, int g) {
        if (g == segments.length) {
            return p == path.length;
        }
        if (segments[g] == null) { // '**': zero or more whole segments
            for (int skip = p; skip <= path.length; skip++) {
                if (matches(path, skip, g + 1)) {
                    return true;
                }
            }
            return false;
        }
        return p < path.length && segments[g].matcher(path[p]).matches() && matches(path, p + 1, g + 1);
    }

    /** @return the rule as written */
    public String glob() {
        return glob;
    }

    @Override
    public String toString() {
        return glob;
    }

    /**
     * The entries whose path matches any of the rules, in the map's order.
     *
     * @param <V> the layer type
     * @param layers layers by path (e.g. {@code DdimUNet.layers()})
     * @param globs the rules
     * @return the selected entries (a new map)
     */
    public static <V> Map<String, V> select(Map<String, V> layers, List<String> globs) {
        List<PathGlob> rules = globs.stream().map(PathGlob::compile).toList();
        Map<String, V> out = new LinkedHashMap<>();
        layers.forEach((path, layer) -> {
            if (rules.stream().anyMatch(r -> r.matches(path))) {
                out.put(path, layer);
            }
        });
        return out;
    }

    /**
     * Like {@link #select(Map, List)} for rules that must each match something: a rule that selects
     * nothing is most likely a typo.
     *
     * @param <V> the layer type
     * @param layers layers by path
     * @param globs the rules
     * @return the selected entries
     * @throws QncdException naming every rule that matched no layer
     */
    public static <V> Map<String, V> selectStrict(Map<String, V> layers, List<String> globs) {
        List<String> unmatched = globs.stream()
                .filter(g -> layers.keySet().stream().noneMatch(compile(g)::matches)).toList();
        if (!unmatched.isEmpty()) {
            String examples = String.join(", ", layers.keySet().stream().limit(4).toList());
            throw new QncdException("layer rule(s) " + unmatched + " match no layer; paths look like " + examples
                    + " ('*' is one segment, '**' any number)");
        }
        return select(layers, globs);
    }
}
