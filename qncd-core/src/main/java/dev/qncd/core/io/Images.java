package dev.qncd.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.qncd.core.util.AtomicFiles;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * Image batches between the model's float range and 8-bit pixels, and PNG files.
 *
 * <p>{@link #toUint8(NDArray)} rounds as the reference scripts save images (torchvision's
 * {@code save_image}: {@code clamp((x + 1)/2, 0, 1)·255 + 0.5}, clamped to [0, 255], truncated), so
 * {@code --savez} batches equal the PNGs the reference writes.
 */
public final class Images {
    private Images() {}

    /**
     * @param x images (N, C, H, W) in [−1, 1] (values outside are clamped)
     * @return uint8 (N, H, W, C), ADM's {@code arr_0} layout, in x's manager
     */
    public static NDArray toUint8(NDArray x) {
        NDArray u = x.add(1f).divi(2f).clip(0f, 1f).muli(255f).addi(0.5f).clip(0f, 255f);
        return u.toType(DataType.UINT8, false).transpose(0, 2, 3, 1).duplicate();
    }

    /**
     * Writes one image as PNG, atomically.
     *
     * @param file destination
     * @param hwc uint8 (H, W, C) with C = 1 (grey) or 3 (RGB)
     * @throws IOException when the file cannot be written
     */
    public static void writePng(Path file, NDArray hwc) throws IOException {
        long h = hwc.getShape().get(0);
        long w = hwc.getShape().get(1);
        long c = hwc.getShape().get(2);
        byte[] px = hwc.toByteArray();
        BufferedImage img = new BufferedImage((int) w, (int) h,
                c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int xx = 0; xx < w; xx++) {
                int i = (int) ((y * w + xx) * c);
                if (c == 1) {
                    img.getRaster().setSample(xx, y, 0, px[i] & 0xff);
                } else {
                    int rgb = (px[i] & 0xff) << 16 | (px[i + 1] & 0xff) << 8 | (px[i + 2] & 0xff);
                    img.setRGB(xx, y, rgb);
                }
            }
        }
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(img, "png", out)) {
                throw new IOException("no PNG writer available");
            }
        });
    }

    /**
     * Tiles a batch into one grid image (rows of {@code perRow}, 2-pixel gaps of zeros, as torchvision's
     * {@code make_grid}).
     *
     * @param nhwc uint8 (N, H, W, C)
     * @param perRow images per row
     * @return uint8 (H', W', C)
     */
    public static NDArray grid(NDArray nhwc, int perRow) {
        long n = nhwc.getShape().get(0);
        long h = nhwc.getShape().get(1);
        long w = nhwc.getShape().get(2);
        long c = nhwc.getShape().get(3);
        int pad = 2;
        long cols = Math.min(perRow, n);
        long rows = (n + cols - 1) / cols;
        long gh = rows * (h + pad) + pad;
        long gw = cols * (w + pad) + pad;
        byte[] src = nhwc.toByteArray();
        byte[] dst = new byte[(int) (gh * gw * c)];
        for (int k = 0; k < n; k++) {
            long oy = (k / cols) * (h + pad) + pad;
            long ox = (k % cols) * (w + pad) + pad;
            for (int y = 0; y < h; y++) {
                System.arraycopy(src, (int) (((k * h) + y) * w * c), dst, (int) (((oy + y) * gw + ox) * c), (int) (w * c));
            }
        }
        return nhwc.getManager().create(java.nio.ByteBuffer.wrap(dst), new ai.djl.ndarray.types.Shape(gh, gw, c),
                DataType.UINT8);
    }
}
