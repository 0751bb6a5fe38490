package dev.qncd.models.cond;

import ai.djl.ndarray.NDArray;
import dev.qncd.core.QncdException;
import java.util.Map;

/**
 * The hyper-parameters of a CLIP text transformer (HuggingFace {@code CLIPTextConfig}).
 *
 * @param vocabSize token embedding rows (49408 for CLIP)
 * @param width hidden size
 * @param layers transformer layers
 * @param heads attention heads (width must divide by it)
 * @param intermediate MLP hidden size
 * @param maxPositions position embedding rows, the context length (77)
 * @param layerNormEps LayerNorm epsilon (1e-5)
 */
public record ClipTextConfig(int vocabSize, int width, int layers, int heads, int intermediate, int maxPositions,
        float layerNormEps) {

    /** CLIP ViT-L/14's text transformer, the cond stage of Stable Diffusion v1 ({@code openai/clip-vit-large-patch14}). */
    public static final ClipTextConfig VIT_L_14 = new ClipTextConfig(49408, 768, 12, 12, 3072, 77, 1e-5f);

    /** Validates. */
    public ClipTextConfig {
        if (vocabSize <= 0 || width <= 0 || layers <= 0 || heads <= 0 || intermediate <= 0 || maxPositions <= 0) {
            throw new QncdException("invalid CLIP text config: every size must be positive");
        }
        if (width % heads != 0) {
            throw new QncdException("invalid CLIP text config: width " + width + " is not divisible into " + heads
                    + " heads");
        }
    }

    /** @return width / heads */
    public int headDim() {
        return width / heads;
    }

    /**
     * Reads the sizes off a text model's state dict (keys relative to {@code text_model.}'s parent, e.g.
     * {@code text_model.embeddings.token_embedding.weight}), with CLIP's head width of 64
     * ({@code transformer_heads = transformer_width // 64} in openai/CLIP).
     *
     * @param stateDict the text model's tensors
     * @return the config
     * @throws QncdException when the tensors that give the sizes are missing
     */
    public static ClipTextConfig inferFrom(Map<String, NDArray> stateDict) {
        NDArray tok = need(stateDict, "text_model.embeddings.token_embedding.weight");
        NDArray pos = need(stateDict, "text_model.embeddings.position_embedding.weight");
        NDArray fc1 = need(stateDict, "text_model.encoder.layers.0.mlp.fc1.weight");
        int layers = 0;
        while (stateDict.containsKey("text_model.encoder.layers." + layers + ".mlp.fc1.weight")) {
            layers++;
        }
        int width = (int) tok.getShape().get(1);
        if (width % 64 != 0) {
            throw new QncdException("cannot infer the CLIP head count from width " + width
                    + " (CLIP uses width/64 heads): pass the config explicitly");
        }
        return new ClipTextConfig((int) tok.getShape().get(0), width, layers, width / 64, (int) fc1.getShape().get(0),
                (int) pos.getShape().get(0), 1e-5f);
    }

    private static NDArray need(Map<String, NDArray> sd, String key) {
        NDArray a = sd.get(key);
        if (a == null) {
            throw new QncdException("no CLIP text model in the checkpoint: '" + key + "' is missing (expected under"
                    + " cond_stage_model.transformer. in a Stable Diffusion v1 checkpoint)");
        }
        return a;
    }
}
