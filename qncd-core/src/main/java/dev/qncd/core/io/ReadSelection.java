package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.FormatException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which tensors of a checkpoint to read, and in which floating-point type to keep them: the way to take
 * one part out of a big file (e.g. the {@code first_stage_model.} tensors of a 4 GB Stable Diffusion
 * {@code .ckpt}) without materialising the rest. The torch.save and safetensors readers skip the bytes
 * of every tensor the selection excludes and convert each selected tensor right after it is read, so the
 * memory a read costs is the selected tensors in the chosen type plus one stored tensor.
 *
 * @param prefixes read only the tensors whose name (after state-dict detection and the removal of a
 *     DataParallel {@code module.}) starts with one of these; empty to read all
 * @param floatType {@link DataType#FLOAT16}, {@link DataType#FLOAT32} or {@link DataType#FLOAT64} to
 *     convert every floating-point tensor to as it is read (integer and boolean tensors keep their
 *     type), or null to keep the stored types
 */
public record ReadSelection(List<String> prefixes, DataType floatType) {

    /** Every tensor, in its stored type. */
    public static final ReadSelection ALL = new ReadSelection(List.of(), null);

    /** Validates and copies. */
    public ReadSelection {
        prefixes = prefixes == null ? List.of() : List.copyOf(prefixes);
        if (floatType != null && floatType != DataType.FLOAT16 && floatType != DataType.FLOAT32
                && floatType != DataType.FLOAT64) {
            throw new IllegalArgumentException("a checkpoint can be read as float16, float32 or float64, not "
                    + floatType + ": pass one of these or null to keep the stored types");
        }
    }

    /**
     * @param prefixes name prefixes, e.g. {@code first_stage_model.}
     * @return the tensors under any of them, in their stored types
     */
    public static ReadSelection under(String... prefixes) {
        return new ReadSelection(List.of(prefixes), null);
    }

    /**
     * @param type the floating-point type to convert to, or null to keep the stored types
     * @return this selection with that conversion
     */
    public ReadSelection withFloatType(DataType type) {
        return new ReadSelection(prefixes, type);
    }

    /**
     * @param name a tensor name
     * @return whether the selection reads it
     */
    public boolean includes(String name) {
        if (prefixes.isEmpty()) {
            return true;
        }
        for (String p : prefixes) {
            if (name.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** @return whether every tensor is read in its stored type (the plain readers' behaviour) */
    public boolean isAll() {
        return prefixes.isEmpty() && floatType == null;
    }

    /**
     * Converts a just-read floating-point array to {@link #floatType} (closing the original), or returns
     * it unchanged.
     *
     * @param a an array
     * @return the array in the selected type, in a's manager
     */
    NDArray convert(NDArray a) {
        if (floatType == null || !a.getDataType().isFloating() || a.getDataType() == floatType) {
            return a;
        }
        NDArray c = a.toType(floatType, false);
        a.close();
        return c;
    }

    /**
     * The error for a selection that matched nothing, listing the first name segments the file has.
     *
     * @param file for the message
     * @param names every tensor name of the state dict
     * @return the exception to throw
     */
    FormatException nothingSelected(String file, Iterable<String> names) {
        Set<String> heads = new TreeSet<>();
        for (String n : names) {
            int dot = n.indexOf('.');
            heads.add(dot < 0 ? n : n.substring(0, dot + 1));
        }
        List<String> shown = new ArrayList<>(heads);
        String list = shown.size() > 20 ? shown.subList(0, 20) + " ..." : shown.toString();
        return new FormatException(file + ": no tensor name starts with " + prefixes + "; the names start with "
                + list + ": check the checkpoint (or the key of its state dict)");
    }

    /**
     * Applies the selection to already-read arrays (formats read whole): closes the excluded ones and
     * converts the others.
     *
     * @param file for the message when nothing is selected
     * @param all the arrays read
     * @return the selected arrays, in order
     */
    LinkedHashMap<String, NDArray> filter(String file, Map<String, NDArray> all) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : all.entrySet()) {
            if (includes(e.getKey())) {
                out.put(e.getKey(), convert(Objects.requireNonNull(e.getValue())));
            } else {
                e.getValue().close();
            }
        }
        if (out.isEmpty() && !all.isEmpty()) {
            throw nothingSelected(file, all.keySet());
        }
        return out;
    }
}
