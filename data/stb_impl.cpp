// The one translation unit that compiles the stb_image and stb_image_write implementations
// (single-header libraries from Debian's libstb-dev), JPEG excluded. Built with warnings off (see
// CMakeLists.txt); nothing of ours lives here.
#define STB_IMAGE_IMPLEMENTATION
// Only the formats a training pipeline meets go through stb: PNG, BMP and GIF. JPEG goes to
// libjpeg-turbo (jpeg.cpp): this stb snapshot's JPEG decoder is not safe on corrupt files, nor is
// its PNM header parser (signed overflow on long numbers); PSD, PIC, HDR and TGA (which has no
// magic number, so stb guesses it) are left out with them. All found by tests/fuzz/fuzz_image.
#define STBI_NO_JPEG
#define STBI_NO_PNM
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_HDR
#define STBI_NO_TGA
#define STBI_FAILURE_USERMSG
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
