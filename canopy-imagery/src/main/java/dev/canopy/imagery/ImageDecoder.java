package dev.canopy.imagery;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes JPEG/PNG bytes to a normalised float tensor in CHW layout (channels R,G,B), resized to
 * a square {@code size}. JPEGs are decoded one of two ways ({@link JpegMethod}): through libjpeg-turbo's
 * TurboJPEG library ({@link TurboJpeg}: scaled in the DCT domain to the smallest k/8 of the source that
 * still covers {@code size}, each 8x8 block's mean at 1/8), or through the JDK's ImageIO, which
 * subsamples while decoding when the target is at most half the source (one pixel of each block). The
 * two give slightly different images, so a model records the method it was trained with and is run
 * with the same one ({@code ModelCard.decoder()}). PNGs, and JPEGs TurboJPEG cannot read (chroma
 * sampling it does not know), go through ImageIO. An image that is not yet {@code size} is resized
 * bilinearly.
 *
 * <p>Thread-safe: each call uses its own reader. Failures are {@link ImageDecodeException}s naming the image.
 */
public final class ImageDecoder {
    /** ImageNet statistics, the usual default for models pretrained or not. */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    public static final int MAX_PIXELS = 64 * 1024 * 1024; // refuse decompression bombs

    /** How JPEG tiles become pixels; a model's provenance records it as {@code jpeg_decoder}. */
    public enum JpegMethod {
        /** TurboJPEG, scaled in the DCT domain: faster, needs Debian's libturbojpeg0. */
        TURBOJPEG_DCT_SCALED("turbojpeg-dct-scaled"),
        /** The JDK's ImageIO, subsampled while decoding: always there. */
        IMAGEIO_SUBSAMPLED("imageio-subsampled");

        private final String id;

        JpegMethod(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        /** The method named {@code id}; null for null. */
        public static JpegMethod of(String id) {
            if (id == null) return null;
            for (JpegMethod m : values()) if (m.id.equals(id)) return m;
            throw new IllegalArgumentException("unknown JPEG method '" + id + "': expected turbojpeg-dct-scaled or imageio-subsampled");
        }

        /** True when this JVM can decode this way (TurboJPEG needs the library and no -Dcanopy.decoder=imageio). */
        public boolean availableHere() {
            return this == IMAGEIO_SUBSAMPLED || TurboJpeg.AVAILABLE;
        }

        /** What a model trained now records: TurboJPEG where this JVM has it, else ImageIO. */
        public static JpegMethod preferred() {
            return TurboJpeg.AVAILABLE ? TURBOJPEG_DCT_SCALED : IMAGEIO_SUBSAMPLED;
        }
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ImageDecoder.class);
    private static final java.util.concurrent.atomic.AtomicBoolean FELL_BACK = new java.util.concurrent.atomic.AtomicBoolean();

    private final int size;
    private final float[] mean;
    private final float[] std;
    private final boolean turbo;

    /** A decoder with the {@link JpegMethod#preferred() preferred} JPEG method: for training and for models that do not say. */
    public ImageDecoder(int size, float[] mean, float[] std) {
        this(size, mean, std, null);
    }

    /**
     * A decoder with JPEG method {@code method} (null: the preferred one). A model trained with
     * TurboJPEG on a machine that now lacks it gets ImageIO ({@link #jpegMethod()} says which).
     */
    public ImageDecoder(int size, float[] mean, float[] std, JpegMethod method) {
        if (size < 1) throw new IllegalArgumentException("size must be >= 1");
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 values (R,G,B)");
        this.size = size;
        this.mean = mean.clone();
        this.std = std.clone();
        this.turbo = (method == null ? JpegMethod.preferred() : method) == JpegMethod.TURBOJPEG_DCT_SCALED && TurboJpeg.AVAILABLE;
    }

    /** The JPEG method this decoder uses. */
    public JpegMethod jpegMethod() {
        return turbo ? JpegMethod.TURBOJPEG_DCT_SCALED : JpegMethod.IMAGEIO_SUBSAMPLED;
    }

    public int size() {
        return size;
    }

    /** Decodes to RGB pixels, {@code size x size}. */
    public BufferedImage decodeImage(byte[] bytes, String name) {
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, size, size, decodePixels(bytes, name), 0, size);
        return out;
    }

    /** The decoder's own image (usually 3-byte BGR), subsampled towards {@code size} but not yet resized. */
    private BufferedImage decodeRaw(byte[] bytes, String name) {
        if (bytes == null || bytes.length == 0) throw new ImageDecodeException(name, "empty file", null);
        boolean jpeg = isJpeg(bytes);
        if (jpeg && !hasJpegEnd(bytes)) {
            // libjpeg pads a truncated JPEG with grey and only warns: refuse it instead of training on grey
            throw new ImageDecodeException(name, "truncated JPEG (no end-of-image marker)", null);
        }
        if (jpeg && turbo) {
            try {
                return TurboJpeg.decode(bytes, size, MAX_PIXELS, name);
            } catch (TurboJpeg.Unsupported e) {
                // a valid JPEG TurboJPEG cannot read (e.g. 4:1:0 chroma): ImageIO may; corrupt data it refuses too
                if (FELL_BACK.compareAndSet(false, true)) {
                    LOG.warn("TurboJPEG could not read {} ({}): decoded with ImageIO; later such tiles are not logged", name, e.getMessage());
                }
            }
        }
        // a memory-cached stream: ImageIO's default for an InputStream copies every image into a temporary file first
        // (a stream reading the array in place measured slower in the pipeline: 504-536 vs 543-636 tiles/s in alternating runs)
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            // a JPEG needs no probing of every installed reader (GIF, BMP, WBMP... each reads the header)
            Iterator<ImageReader> readers = jpeg ? ImageIO.getImageReadersByFormatName("jpeg") : ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new ImageDecodeException(name, "not a JPEG or PNG image", null);
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if ((long) w * h > MAX_PIXELS) throw new ImageDecodeException(name, w + "x" + h + " is larger than " + MAX_PIXELS + " pixels", null);
                ImageReadParam p = reader.getDefaultReadParam();
                int sub = Math.max(1, Math.min(w, h) / size / 1); // integer subsampling never below target
                if (sub >= 2) p.setSourceSubsampling(sub, sub, 0, 0);
                String[] warning = new String[1];
                reader.addIIOReadWarningListener((src, msg) -> warning[0] = msg);
                BufferedImage img = reader.read(0, p);
                if (warning[0] != null) throw new ImageDecodeException(name, warning[0], null);
                return img;
            } finally {
                reader.dispose();
            }
        } catch (ImageDecodeException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageDecodeException(name, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
        }
    }

    /** Decodes and normalises to CHW floats: {@code (pixel/255 - mean[c]) / std[c]}. */
    public float[] decode(byte[] bytes, String name) {
        BufferedImage raw = decodeRaw(bytes, name);
        if (raw.getType() == BufferedImage.TYPE_3BYTE_BGR && raw.getWidth() == size && raw.getHeight() == size) return normalizeBgr(raw);
        return normalize(resized(raw));
    }

    /** CHW floats straight from a 3-byte BGR raster: no per-pixel colour-model calls, no intermediate image. */
    private float[] normalizeBgr(BufferedImage img) {
        Interleaved bgr = Interleaved.of(img);
        byte[] data = bgr.data();
        int[] offsets = bgr.offsets();
        int pixelStride = bgr.pixelStride(), scanline = bgr.scanline(), base = bgr.base();
        float[] out = new float[3 * size * size];
        int plane = size * size;
        for (int c = 0; c < 3; c++) {
            float scale = 1f / (255f * std[c]);
            float shift = mean[c] / std[c];
            int outBase = c * plane;
            for (int y = 0; y < size; y++) {
                int in = base + y * scanline + offsets[c];
                int o = outBase + y * size;
                for (int x = 0; x < size; x++, in += pixelStride) out[o + x] = (data[in] & 0xFF) * scale - shift;
            }
        }
        return out;
    }

    /** Decodes to packed RGB pixels, {@code size x size}, row-major. */
    public int[] decodePixels(byte[] bytes, String name) {
        return resized(decodeRaw(bytes, name));
    }

    /** Writes CHW floats of an already decoded {@code size x size} RGB image. */
    public float[] toTensor(BufferedImage img) {
        return normalize(img.getRGB(0, 0, size, size, null, 0, size));
    }

    /**
     * Packed RGB pixels of {@code img} resized bilinearly to {@code size x size}, pixel centres aligned as
     * Java2D's bilinear {@code drawImage} aligns them (source x = (x + 0.5) * w / size - 0.5, clamped at
     * the edges). Written out because Java2D's generic loops for a 3-byte BGR source cost several times
     * the decode itself (256 to 224 px: about 4 ms per tile).
     */
    int[] resized(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        int[] src = packed(img);
        if (w == size && h == size) return src;
        int[] x0 = new int[size], x1 = new int[size], y0 = new int[size], y1 = new int[size];
        float[] fx = new float[size], fy = new float[size];
        taps(w, x0, x1, fx);
        taps(h, y0, y1, fy);
        int[] out = new int[size * size];
        for (int y = 0; y < size; y++) {
            int r0 = y0[y] * w, r1 = y1[y] * w;
            float v = fy[y];
            for (int x = 0; x < size; x++) {
                float u = fx[x];
                int a = src[r0 + x0[x]], b = src[r0 + x1[x]], c = src[r1 + x0[x]], d = src[r1 + x1[x]];
                int px = 0;
                for (int shift = 16; shift >= 0; shift -= 8) {
                    float top = ((a >> shift) & 0xFF) + u * (((b >> shift) & 0xFF) - ((a >> shift) & 0xFF));
                    float bottom = ((c >> shift) & 0xFF) + u * (((d >> shift) & 0xFF) - ((c >> shift) & 0xFF));
                    px |= Math.min(255, (int) (top + v * (bottom - top) + 0.5f)) << shift;
                }
                out[y * size + x] = px;
            }
        }
        return out;
    }

    /** For each output coordinate: the two source coordinates around its centre and the weight of the second. */
    private void taps(int sourceSide, int[] first, int[] second, float[] weight) {
        float scale = sourceSide / (float) size;
        for (int i = 0; i < size; i++) {
            float at = Math.max(0, (i + 0.5f) * scale - 0.5f);
            int lo = Math.min((int) at, sourceSide - 1);
            first[i] = lo;
            second[i] = Math.min(lo + 1, sourceSide - 1);
            weight[i] = second[i] == lo ? 0 : at - lo;
        }
    }

    /**
     * All pixels of {@code img} as packed RGB, read straight from a 3-byte BGR raster when it is one.
     * Any other type is drawn onto an RGB image as before the resize was written out: grey values are
     * copied as they are (getRGB would convert Java's linear grey to sRGB: 128 becomes about 188) and
     * transparent pixels are blended onto black.
     */
    private static int[] packed(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        if (img.getType() == BufferedImage.TYPE_INT_RGB) return img.getRGB(0, 0, w, h, null, 0, w);
        if (img.getType() != BufferedImage.TYPE_3BYTE_BGR) {
            BufferedImage rgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            java.awt.Graphics2D g = rgb.createGraphics();
            try {
                g.drawImage(img, 0, 0, null);
            } finally {
                g.dispose();
            }
            return ((java.awt.image.DataBufferInt) rgb.getRaster().getDataBuffer()).getData();
        }
        Interleaved bgr = Interleaved.of(img);
        byte[] data = bgr.data();
        int[] off = bgr.offsets();
        int stride = bgr.pixelStride(), scanline = bgr.scanline(), base = bgr.base();
        int[] out = new int[w * h];
        for (int y = 0; y < h; y++) {
            int in = base + y * scanline;
            for (int x = 0; x < w; x++, in += stride) {
                out[y * w + x] = (data[in + off[0]] & 0xFF) << 16 | (data[in + off[1]] & 0xFF) << 8 | (data[in + off[2]] & 0xFF);
            }
        }
        return out;
    }

    /**
     * Where the bytes of a 3-byte BGR image are: band c (R, G, B) of pixel (x, y) is
     * {@code data[base + y * scanline + x * pixelStride + offsets[c]]}.
     */
    private record Interleaved(byte[] data, int base, int scanline, int pixelStride, int[] offsets) {
        static Interleaved of(BufferedImage img) {
            java.awt.image.Raster r = img.getRaster();
            java.awt.image.ComponentSampleModel sm = (java.awt.image.ComponentSampleModel) r.getSampleModel();
            int scanline = sm.getScanlineStride(), stride = sm.getPixelStride();
            int base = r.getDataBuffer().getOffset() - r.getSampleModelTranslateY() * scanline - r.getSampleModelTranslateX() * stride;
            return new Interleaved(((java.awt.image.DataBufferByte) r.getDataBuffer()).getData(), base, scanline, stride, sm.getBandOffsets());
        }
    }

    /** Packed RGB pixels ({@code size x size}) to normalised CHW floats. */
    public float[] normalize(int[] px) {
        float[] out = new float[3 * size * size];
        int plane = size * size;
        float s0 = 1f / (255f * std[0]), s1 = 1f / (255f * std[1]), s2 = 1f / (255f * std[2]);
        float o0 = mean[0] / std[0], o1 = mean[1] / std[1], o2 = mean[2] / std[2];
        for (int i = 0; i < plane; i++) {
            int p = px[i];
            out[i] = ((p >> 16) & 0xFF) * s0 - o0;
            out[plane + i] = ((p >> 8) & 0xFF) * s1 - o1;
            out[2 * plane + i] = (p & 0xFF) * s2 - o2;
        }
        return out;
    }

    private static boolean isJpeg(byte[] b) {
        return b != null && b.length > 2 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8;
    }

    private static boolean hasJpegEnd(byte[] b) {
        // allow trailing padding bytes after EOI, as some encoders write
        for (int i = b.length - 1; i >= Math.max(1, b.length - 64); i--) {
            if ((b[i - 1] & 0xFF) == 0xFF && (b[i] & 0xFF) == 0xD9) return true;
        }
        return false;
    }
}
