package dev.qncd.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.QncdException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hands a model under construction its parameters from a state dict, by original key and expected
 * shape, and collects every problem (missing key, wrong shape, unexpected key) so that one error lists
 * them all. A missing or mis-shaped parameter is replaced by zeros so construction can go on to find
 * the rest; {@link #finish()} then throws.
 */
public final class ParamSource {
    private static final int LIST_LIMIT = 25;
    private final Map<String, NDArray> stateDict;
    private final NDManager manager;
    private final String source;
    private final Set<String> used = new LinkedHashSet<>();
    private final List<String> missing = new ArrayList<>();
    private final List<String> misshaped = new ArrayList<>();

    /**
     * @param stateDict parameters by original key (converted to float32 on use)
     * @param manager owner of converted or placeholder arrays
     * @param source the checkpoint's name, for messages
     */
    public ParamSource(Map<String, NDArray> stateDict, NDManager manager, String source) {
        this.stateDict = new LinkedHashMap<>(stateDict);
        this.manager = manager;
        this.source = source;
    }

    /**
     * @param key the original key, e.g. {@code down.0.block.0.conv1.weight}
     * @param shape the shape the config implies
     * @return the parameter as float32 (or zeros of that shape when missing or mis-shaped)
     */
    public NDArray get(String key, long... shape) {
        used.add(key);
        Shape expected = new Shape(shape);
        NDArray a = stateDict.get(key);
        if (a == null) {
            missing.add(key + " " + Arrays.toString(shape));
            return manager.zeros(expected, DataType.FLOAT32);
        }
        if (!a.getShape().equals(expected)) {
            misshaped.add(key + ": shape " + Arrays.toString(a.getShape().getShape()) + " vs expected "
                    + Arrays.toString(shape));
            return manager.zeros(expected, DataType.FLOAT32);
        }
        if (a.getDataType() != DataType.FLOAT32) {
            NDArray f = a.toType(DataType.FLOAT32, false);
            f.attach(manager);
            return f;
        }
        return a;
    }

    /**
     * Throws when anything was missing, mis-shaped or left unused.
     *
     * @param what the model, for the message (e.g. {@code DDIM UNet of configs/cifar10.yml})
     * @throws QncdException listing every problem
     */
    public void finish(String what) {
        List<String> unexpected = new ArrayList<>();
        for (String k : stateDict.keySet()) {
            if (!used.contains(k)) {
                unexpected.add(k);
            }
        }
        if (missing.isEmpty() && misshaped.isEmpty() && unexpected.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder(source + " does not fit the " + what + ":");
        section(sb, "missing keys", missing);
        section(sb, "wrong shapes", misshaped);
        section(sb, "unexpected keys", unexpected);
        sb.append("\nCheck that the config matches the checkpoint (ch, ch_mult, num_res_blocks, attn_resolutions,"
                + " channels), or select the state dict inside the file with the key option.");
        throw new QncdException(sb.toString());
    }

    private static void section(StringBuilder sb, String title, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        sb.append("\n  ").append(items.size()).append(' ').append(title).append(':');
        for (int i = 0; i < Math.min(items.size(), LIST_LIMIT); i++) {
            sb.append("\n    ").append(items.get(i));
        }
        if (items.size() > LIST_LIMIT) {
            sb.append("\n    ... and ").append(items.size() - LIST_LIMIT).append(" more");
        }
    }
}
