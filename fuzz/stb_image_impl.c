/* stb_image_impl.c -- stb_image's PNG decoder compiled into the fuzzers, with their
 * instrumentation, so that libFuzzer sees coverage inside the decoder that rin_png_read and the
 * png: dataset reader call. The definitions here take precedence over Debian's uninstrumented
 * libstb (an executable's symbols interpose a shared library's); the header is the same
 * /usr/include/stb/stb_image.h the library was built from. Only PNG: rin refuses other formats
 * before decoding (src/data/imageio.c, src/data/data.c). */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb_image.h>
