package dev.qncd.eval.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.FormatException;
import dev.qncd.core.QncdException;
import dev.qncd.core.io.Npz;
import dev.qncd.eval.features.Features;
import dev.qncd.eval.metrics.GaussianStats;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * Reads evaluation inputs: ADM-style {@code .npz} batches ({@code arr_0}: uint8 NHWC images; optional
 * {@code mu}, {@code sigma}, {@code mu_s}, {@code sigma_s}), feature files ({@code pool}, {@code spatial},
 * {@code logits} arrays, as written by {@code FeatureCache}), and folders of PNG/JPEG images.
 */
public final class EvalInputs {
    private EvalInputs() {}

    /**
     * Reads an input.
     *
     * @param path an .npz file or a folder of images
     * @param manager owner of the arrays
     * @return what the input holds
     * @throws IOException when the path cannot be read
     * @throws QncdException when it holds nothing usable, or images of mixed sizes
     */
    public static EvalInput read(Path path, NDManager manager) throws IOException {
        if (Files.isDirectory(path)) {
            return new EvalInput(path.toString(), readFolder(path, manager), null, null, null);
        }
        if (!Files.exists(path)) {
            throw new java.nio.file.NoSuchFileException(path.toString());
        }
        Map<String, NDArray> a = Npz.read(path, manager);
        NDArray images = a.get("arr_0");
        if (images != null) {
            Shape s = images.getShape();
            if (s.dimension() != 4 || s.get(3) != 3 || images.getDataType() != DataType.UINT8) {
                throw new FormatException(path + ": arr_0 must be uint8 images N x H x W x 3 (ADM's layout), got "
                        + images.getDataType() + " " + s + "; save samples as np.savez(f, arr_0=uint8_nhwc)");
            }
            if (s.get(0) == 0) {
                throw new QncdException(path + ": arr_0 holds no images: sample some first");
            }
        }
        Features features = null;
        if (a.containsKey("pool") || a.containsKey("spatial") || a.containsKey("logits")) {
            features = new Features(a.get("pool"), a.get("spatial"), a.get("logits"));
            if (features.count() == 0) {
                throw new QncdException(path + ": the feature arrays are empty: featurise some images first");
            }
        }
        GaussianStats pool = a.containsKey("mu") && a.containsKey("sigma")
                ? GaussianStats.of(a.get("mu"), a.get("sigma"), path + "[mu, sigma]") : null;
        GaussianStats spatial = a.containsKey("mu_s") && a.containsKey("sigma_s")
                ? GaussianStats.of(a.get("mu_s"), a.get("sigma_s"), path + "[mu_s, sigma_s]") : null;
        if (images == null && features == null && pool == null && spatial == null) {
            throw new FormatException(path + " holds none of arr_0 (images), pool/spatial/logits (features) or"
                    + " mu/sigma (statistics); found " + a.keySet() + ": pass an ADM sample or reference batch");
        }
        return new EvalInput(path.toString(), images, features, pool, spatial);
    }

    /**
     * Reads every PNG/JPEG of a folder (sorted by name) into one uint8 NHWC array.
     *
     * @param dir the folder
     * @param manager owner of the array
     * @return the images
     * @throws IOException when a file cannot be read
     * @throws QncdException when there are no images or their sizes differ
     */
    public static NDArray readFolder(Path dir, NDManager manager) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> {
                String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
            }).sorted().toList();
        }
        if (files.isEmpty()) {
            throw new QncdException(dir + " holds no .png/.jpg/.jpeg images: pass a folder of samples or an .npz");
        }
        int h = -1;
        int w = -1;
        byte[] data = null;
        for (int i = 0; i < files.size(); i++) {
            BufferedImage img = ImageIO.read(files.get(i).toFile());
            if (img == null) {
                throw new FormatException(files.get(i) + " is not a readable PNG/JPEG image");
            }
            if (h < 0) {
                h = img.getHeight();
                w = img.getWidth();
                data = new byte[Math.multiplyExact(files.size(), h * w * 3)];
            } else if (img.getHeight() != h || img.getWidth() != w) {
                throw new QncdException("images differ in size: " + files.get(0).getFileName() + " is " + w + "x" + h
                        + " but " + files.get(i).getFileName() + " is " + img.getWidth() + "x" + img.getHeight()
                        + ": resize them to one size first");
            }
            int off = i * h * w * 3;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = img.getRGB(x, y);
                    data[off++] = (byte) (rgb >> 16);
                    data[off++] = (byte) (rgb >> 8);
                    data[off++] = (byte) rgb;
                }
            }
        }
        return manager.create(java.nio.ByteBuffer.wrap(data), new Shape(files.size(), h, w, 3), DataType.UINT8);
    }
}
