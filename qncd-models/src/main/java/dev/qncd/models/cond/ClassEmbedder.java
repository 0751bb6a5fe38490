package dev.qncd.models.cond;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Checkpoints;
import dev.qncd.core.io.ReadSelection;
import dev.qncd.models.nn.ParamSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The class embedder of class-conditional latent diffusion ({@code ClassEmbedder} of
 * {@code ldm/modules/encoders/modules.py}): c = embedding(labels[:, None]), shape (N, 1, embed_dim), the
 * cross-attention context of the UNet. Key {@code cond_stage_model.embedding.weight} (n_classes,
 * embed_dim) in an LDM checkpoint, or {@code embedding.weight} alone. cin256-v2 has n_classes 1001:
 * the ImageNet classes 0..999 and the unconditional class 1000 used for classifier-free guidance.
 */
public final class ClassEmbedder implements AutoCloseable {
    /** The key prefix of the conditioning model inside a latent-diffusion checkpoint. */
    public static final String LDM_PREFIX = "cond_stage_model.";

    private static final String KEY = "embedding.weight";

    private final NDManager manager;
    private final NDArray embedding;
    private final int nClasses;
    private final int embedDim;

    /**
     * The {@code cond_stage_config.params} of a class-conditional LDM config.
     *
     * @param nClasses {@code n_classes} (default 1000)
     * @param embedDim {@code embed_dim}
     * @param key {@code key}: the batch key of the labels (informational, e.g. {@code class_label})
     */
    public record Config(int nClasses, int embedDim, String key) {
        /** Validates. */
        public Config {
            if (nClasses <= 0 || embedDim <= 0) {
                throw new QncdException("invalid ClassEmbedder config: n_classes and embed_dim must be positive, got "
                        + nClasses + " and " + embedDim);
            }
        }

        /**
         * @param file an LDM config whose {@code cond_stage_config.target} is the ClassEmbedder
         * @return its params
         * @throws IOException when the file cannot be read
         * @throws QncdException when the config has no class embedder
         */
        public static Config load(Path file) throws IOException {
            JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
            JsonNode cond = root == null ? null : root.path("model").path("params").get("cond_stage_config");
            String target = cond == null ? "" : cond.path("target").asText(cond.asText(""));
            if (!target.equals("ldm.modules.encoders.modules.ClassEmbedder")) {
                throw new QncdException(file + ": model.params.cond_stage_config.target is '" + target
                        + "', not ldm.modules.encoders.modules.ClassEmbedder: this is not a class-conditional LDM config");
            }
            JsonNode p = cond.path("params");
            if (!p.has("embed_dim")) {
                throw new QncdException(file + ": cond_stage_config.params.embed_dim is missing");
            }
            return new Config(p.path("n_classes").asInt(1000), p.get("embed_dim").asInt(), p.path("key").asText("class"));
        }
    }

    private ClassEmbedder(Config config, Map<String, NDArray> stateDict, NDManager parent, String source, NDManager owned) {
        this.manager = parent.newSubManager();
        this.nClasses = config.nClasses();
        this.embedDim = config.embedDim();
        Map<String, NDArray> own = stateDict.keySet().stream().anyMatch(k -> k.startsWith(LDM_PREFIX))
                ? Checkpoints.stripPrefix(stateDict, LDM_PREFIX) : stateDict;
        Map<String, NDArray> only = new LinkedHashMap<>();
        own.forEach((k, v) -> {
            if (k.startsWith("embedding.")) {
                only.put(k, v);
            }
        });
        ParamSource p = new ParamSource(only, manager, source);
        NDArray e = p.get(KEY, nClasses, embedDim);
        try {
            p.finish("ClassEmbedder (n_classes " + nClasses + ", embed_dim " + embedDim + ")");
        } catch (QncdException ex) {
            manager.close();
            throw ex;
        }
        if (e.getManager() != manager) {
            e = e.duplicate(); // the model owns its parameter
            e.attach(manager);
        }
        this.embedding = e;
        if (owned != null) {
            owned.close();
        }
    }

    /**
     * @param config n_classes and embed_dim
     * @param stateDict {@code cond_stage_model.embedding.weight} (LDM checkpoint, other keys ignored) or
     *     {@code embedding.weight}
     * @param manager parent manager of the model
     * @param source the checkpoint's name, for messages
     * @return the embedder (owning a copy of its table)
     * @throws QncdException when the table is missing or mis-shaped
     */
    public static ClassEmbedder load(Config config, Map<String, NDArray> stateDict, NDManager manager, String source) {
        return new ClassEmbedder(config, stateDict, manager, source, null);
    }

    /**
     * Reads only the embedding table from a checkpoint.
     *
     * @param checkpoint an LDM checkpoint (or a file with {@code embedding.weight})
     * @param key the state dict's dotted path inside a torch.save file, or null to detect it
     * @param config n_classes and embed_dim
     * @param manager parent manager of the model
     * @return the embedder
     * @throws IOException when the file cannot be read
     */
    public static ClassEmbedder read(Path checkpoint, String key, Config config, NDManager manager) throws IOException {
        NDManager tmp = manager.newSubManager();
        try {
            Map<String, NDArray> sd = Checkpoints.read(checkpoint, tmp, key,
                    ReadSelection.under(LDM_PREFIX + KEY, KEY));
            return new ClassEmbedder(config, sd, manager, checkpoint.getFileName().toString(), tmp);
        } catch (IOException | RuntimeException e) {
            tmp.close();
            throw e;
        }
    }

    /**
     * @param labels class indices (N), integer, each in [0, n_classes)
     * @return the context (N, 1, embed_dim) float32, in the labels' manager
     */
    public NDArray forward(NDArray labels) {
        if (labels.getShape().dimension() != 1) {
            throw new QncdException("class labels must be a vector (N), got shape " + labels.getShape());
        }
        if (labels.getDataType().isFloating()) {
            throw new QncdException("class labels must be integers, got " + labels.getDataType());
        }
        NDManager caller = labels.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray idx = labels.toType(DataType.INT64, true); // a copy: never move the caller's array
            idx.attach(sub);
            long[] v = idx.toLongArray();
            for (long l : v) {
                if (l < 0 || l >= nClasses) {
                    throw new QncdException("class label " + l + " is outside [0, " + nClasses + ")"
                            + (nClasses == 1001 ? ": ImageNet classes are 0..999 and 1000 is the unconditional class" : ""));
                }
            }
            NDArray rows = embedding.get(new NDIndex("{}", idx));
            rows.attach(sub);
            NDArray out = rows.reshape(v.length, 1, embedDim);
            out.attach(caller);
            return out;
        }
    }

    /**
     * @return the class whose embedding is the unconditional context of classifier-free guidance: 1000
     *     when the table has more than the 1000 ImageNet classes (cin256-v2: n_classes 1001), else none
     */
    public OptionalInt unconditionalClass() {
        return nClasses > 1000 ? OptionalInt.of(1000) : OptionalInt.empty();
    }

    /** @return n_classes */
    public int nClasses() {
        return nClasses;
    }

    /** @return embed_dim */
    public int embedDim() {
        return embedDim;
    }

    /** @return the table (n_classes, embed_dim) */
    public NDArray table() {
        return embedding;
    }

    @Override
    public void close() {
        manager.close();
    }
}
