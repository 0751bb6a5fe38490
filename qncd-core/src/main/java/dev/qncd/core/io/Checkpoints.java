package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.qncd.core.FormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One entry point for every tensor file qncd reads: the format is recognised by content
 * ({@link CheckpointFormat#detect}), then the matching reader turns it into named tensors.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /**
     * Reads the tensors of a checkpoint or array file.
     *
     * @param file safetensors, torch.save (zip or legacy), .npz or .npy
     * @param manager the manager the tensors are attached to
     * @return tensors by name in file order (an .npy file gives one tensor named after the file)
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is corrupt, unsupported or unsafe
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager) throws IOException {
        return read(file, manager, null);
    }

    /**
     * Reads the tensors of a checkpoint or array file.
     *
     * @param file safetensors, torch.save (zip or legacy), .npz or .npy
     * @param manager the manager the tensors are attached to
     * @param key for torch.save files: the dotted path of the state dict inside the saved object
     *     (e.g. {@code state_dict}); null to find it automatically. Must be null for other formats.
     * @return tensors by name in file order
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is corrupt, unsupported or unsafe
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager, String key) throws IOException {
        return read(file, manager, key, ReadSelection.ALL);
    }

    /**
     * Reads the tensors of a checkpoint or array file that a selection names, converted to its float
     * type. torch.save and safetensors files are read tensor by tensor, skipping the excluded ones, so
     * part of a big checkpoint costs the memory of that part (plus one stored tensor); .npz and .npy
     * files are read whole, then filtered.
     *
     * @param file safetensors, torch.save (zip or legacy), .npz or .npy
     * @param manager the manager the tensors are attached to
     * @param key for torch.save files: the dotted path of the state dict inside the saved object, or
     *     null to find it automatically. Must be null for other formats.
     * @param selection name prefixes and float type ({@link ReadSelection#ALL} for everything as stored)
     * @return the selected tensors by name in file order, names unchanged
     * @throws IOException when the file cannot be read
     * @throws FormatException when it is corrupt, unsupported or unsafe, or no name matches the selection
     */
    public static LinkedHashMap<String, NDArray> read(Path file, NDManager manager, String key,
            ReadSelection selection) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString());
        }
        CheckpointFormat format = CheckpointFormat.detect(file);
        if (key != null && format != CheckpointFormat.TORCH_ZIP && format != CheckpointFormat.TORCH_LEGACY) {
            throw new FormatException("a state-dict key ('" + key + "') only applies to torch.save checkpoints, but "
                    + file + " is " + format + ": drop the key option");
        }
        return switch (format) {
            case SAFETENSORS -> Safetensors.read(file, manager, selection);
            case TORCH_ZIP, TORCH_LEGACY -> TorchCheckpointReader.readStateDict(file, manager, key, selection);
            case NPZ -> selection.isAll() ? Npz.read(file, manager)
                    : selection.filter(file.toString(), Npz.read(file, manager));
            case NPY -> {
                LinkedHashMap<String, NDArray> one = new LinkedHashMap<>();
                String name = file.getFileName().toString().replaceFirst("(?i)\\.npy$", "");
                one.put(name, Npy.read(file, manager));
                yield selection.isAll() ? one : selection.filter(file.toString(), one);
            }
        };
    }

    /**
     * The entries of a state dict under a name prefix, with the prefix removed (e.g. the
     * {@code first_stage_model.} part of a latent-diffusion checkpoint as the autoencoder's own keys).
     *
     * @param stateDict tensors by name
     * @param prefix e.g. {@code first_stage_model.}
     * @return the entries whose name starts with the prefix, renamed, in order (the same arrays)
     */
    public static LinkedHashMap<String, NDArray> stripPrefix(Map<String, NDArray> stateDict, String prefix) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : stateDict.entrySet()) {
            if (e.getKey().startsWith(prefix)) {
                out.put(e.getKey().substring(prefix.length()), e.getValue());
            }
        }
        return out;
    }

    /**
     * Writes tensors in the format named by the file extension: {@code .safetensors} or {@code .npz}.
     *
     * @param file destination, written atomically
     * @param tensors the tensors by name
     * @param metadata string metadata (safetensors only; must be empty for .npz)
     * @throws IOException when the file cannot be written
     * @throws FormatException for another extension
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".safetensors")) {
            Safetensors.write(file, tensors, metadata);
        } else if (name.endsWith(".npz")) {
            if (metadata != null && !metadata.isEmpty()) {
                throw new FormatException(".npz files cannot hold metadata: write .safetensors instead");
            }
            Npz.write(file, tensors, false);
        } else {
            throw new FormatException("cannot write " + file + ": use the extension .safetensors or .npz");
        }
    }
}
