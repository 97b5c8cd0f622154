/* The oracle's instruction harness: runs Arm instructions, through ACLE intrinsics (FMLA
 * through inline assembly, to fix its operand order), on registers read from stdin, and writes
 * the results to stdout. Built by `mlas-emu oracle setup`
 * with aarch64-linux-gnu-gcc -static -march=armv8.6-a+bf16+i8mm+dotprod+sve, run by
 * qemu-aarch64.
 *
 * Protocol (little-endian). Request header, 5 x uint32:
 *   op, segments s, records n, fpcr value, set_fpcr (0 = the Linux default FPCR, 0)
 * then n records of (vd, vn, vm), each 16*s bytes (bfcvt: one 16-byte operand, 4 floats).
 * Reply header, 3 x uint32: status, FPCR read back after setting it, SVE vector length in bytes
 * (0 if s == 1); then n results of 16*s bytes (bfcvt: 8 bytes, 4 bf16).
 * Status: 0 ok, 1 FPCR did not take the value asked for, 2 vector length 16*s unavailable,
 * 3 unknown op, 4 short read, 5 the CPU lacks the feature an FPCR bit asked for belongs to
 * (the third header word is then a mask: 1 FEAT_EBF16 for EBF, 2 FEAT_AFP for FIZ/AH/NEP).
 * s == 1 runs the Advanced SIMD (NEON) form, s > 1 the SVE form with the vector length set to
 * 16*s bytes by prctl(PR_SVE_SET_VL).
 * Op FEATURES (n = 0) replies with the header and 4 x uint64: AT_HWCAP, AT_HWCAP2,
 * ID_AA64ISAR1_EL1 and ID_AA64MMFR1_EL1 as user space reads them (0 without HWCAP_CPUID).
 *
 * A feature counts as present when HWCAP2 says so or its ID register field does
 * (ID_AA64ISAR1_EL1.BF16 >= 2: FEAT_EBF16; ID_AA64MMFR1_EL1.AFP >= 1: FEAT_AFP): QEMU 10's
 * user mode implements both in -cpu max but its ELF loader sets neither HWCAP2 bit.
 */
#include <arm_neon.h>
#include <arm_sve.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>

#ifndef PR_SVE_SET_VL
#define PR_SVE_SET_VL 50
#endif

#ifndef HWCAP_CPUID
#define HWCAP_CPUID (1UL << 11)
#endif
#ifndef HWCAP2_AFP
#define HWCAP2_AFP (1UL << 20)
#endif
#ifndef HWCAP2_EBF16
#define HWCAP2_EBF16 (1UL << 32)
#endif

/* FPCR bits that need a feature: FIZ 0, AH 1, NEP 2 (FEAT_AFP), EBF 13 (FEAT_EBF16). */
#define FPCR_AFP_BITS 0x7u
#define FPCR_EBF (1u << 13)

enum { BFMMLA, BFDOT, BFCVT, SMMLA, UMMLA, USMMLA, SDOT, UDOT, USDOT, FMLA, FEATURES, N_OPS };

#define CHUNK 4096

static uint64_t read_fpcr(void) {
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void write_fpcr(uint64_t v) { __asm__ volatile("msr fpcr, %0" : : "r"(v)); }

/* ID registers as EL0 reads them (Linux emulates the MRS when HWCAP_CPUID is set). */
static void id_registers(uint64_t *isar1, uint64_t *mmfr1) {
    *isar1 = *mmfr1 = 0;
    if (getauxval(AT_HWCAP) & HWCAP_CPUID) {
        __asm__ volatile("mrs %0, ID_AA64ISAR1_EL1" : "=r"(*isar1));
        __asm__ volatile("mrs %0, ID_AA64MMFR1_EL1" : "=r"(*mmfr1));
    }
}

/* Features the FPCR value needs and the CPU lacks: 1 FEAT_EBF16, 2 FEAT_AFP. */
static uint32_t missing_features(uint32_t fpcr) {
    uint64_t hwcap2 = getauxval(AT_HWCAP2), isar1, mmfr1;
    id_registers(&isar1, &mmfr1);
    int ebf16 = (hwcap2 & HWCAP2_EBF16) || ((isar1 >> 44) & 0xf) >= 2;
    int afp = (hwcap2 & HWCAP2_AFP) || ((mmfr1 >> 44) & 0xf) >= 1;
    return ((fpcr & FPCR_EBF) && !ebf16 ? 1u : 0u) | ((fpcr & FPCR_AFP_BITS) && !afp ? 2u : 0u);
}

/* One Advanced SIMD instruction on one record: out = op(vd, vn, vm). */
static void neon_op(uint32_t op, const uint8_t *in, uint8_t *out) {
    const uint8_t *d = in, *n = in + 16, *m = in + 32;
    switch (op) {
    case BFMMLA:
        vst1q_f32((float *)out, vbfmmlaq_f32(vld1q_f32((const float *)d),
                  vreinterpretq_bf16_u16(vld1q_u16((const uint16_t *)n)),
                  vreinterpretq_bf16_u16(vld1q_u16((const uint16_t *)m))));
        break;
    case BFDOT:
        vst1q_f32((float *)out, vbfdotq_f32(vld1q_f32((const float *)d),
                  vreinterpretq_bf16_u16(vld1q_u16((const uint16_t *)n)),
                  vreinterpretq_bf16_u16(vld1q_u16((const uint16_t *)m))));
        break;
    case BFCVT: /* BFCVTN: 4 floats -> the low 4 bf16 lanes */
        vst1_u16((uint16_t *)out, vget_low_u16(vreinterpretq_u16_bf16(
                 vcvtq_low_bf16_f32(vld1q_f32((const float *)in)))));
        break;
    case SMMLA:
        vst1q_s32((int32_t *)out, vmmlaq_s32(vld1q_s32((const int32_t *)d), vld1q_s8((const int8_t *)n),
                  vld1q_s8((const int8_t *)m)));
        break;
    case UMMLA:
        vst1q_u32((uint32_t *)out, vmmlaq_u32(vld1q_u32((const uint32_t *)d), vld1q_u8(n), vld1q_u8(m)));
        break;
    case USMMLA:
        vst1q_s32((int32_t *)out, vusmmlaq_s32(vld1q_s32((const int32_t *)d), vld1q_u8(n),
                  vld1q_s8((const int8_t *)m)));
        break;
    case SDOT:
        vst1q_s32((int32_t *)out, vdotq_s32(vld1q_s32((const int32_t *)d), vld1q_s8((const int8_t *)n),
                  vld1q_s8((const int8_t *)m)));
        break;
    case UDOT:
        vst1q_u32((uint32_t *)out, vdotq_u32(vld1q_u32((const uint32_t *)d), vld1q_u8(n), vld1q_u8(m)));
        break;
    case USDOT:
        vst1q_s32((int32_t *)out, vusdotq_s32(vld1q_s32((const int32_t *)d), vld1q_u8(n),
                  vld1q_s8((const int8_t *)m)));
        break;
    case FMLA: { /* inline asm: the intrinsic lets the compiler swap Vn and Vm (NaN order) */
        float32x4_t acc = vld1q_f32((const float *)d), vn = vld1q_f32((const float *)n),
                    vm = vld1q_f32((const float *)m);
        __asm__("fmla %0.4s, %1.4s, %2.4s" : "+w"(acc) : "w"(vn), "w"(vm));
        vst1q_f32((float *)out, acc);
        break;
    }
    }
}

/* One SVE instruction on one record of vl bytes per operand (all lanes active). */
static void sve_op(uint32_t op, const uint8_t *in, uint8_t *out, size_t vl) {
    const uint8_t *d = in, *n = in + vl, *m = in + 2 * vl;
    svbool_t p8 = svptrue_b8(), p16 = svptrue_b16(), p32 = svptrue_b32();
    switch (op) {
    case BFMMLA:
        svst1_f32(p32, (float *)out, svbfmmla_f32(svld1_f32(p32, (const float *)d),
                  svreinterpret_bf16_u16(svld1_u16(p16, (const uint16_t *)n)),
                  svreinterpret_bf16_u16(svld1_u16(p16, (const uint16_t *)m))));
        break;
    case BFDOT:
        svst1_f32(p32, (float *)out, svbfdot_f32(svld1_f32(p32, (const float *)d),
                  svreinterpret_bf16_u16(svld1_u16(p16, (const uint16_t *)n)),
                  svreinterpret_bf16_u16(svld1_u16(p16, (const uint16_t *)m))));
        break;
    case SMMLA:
        svst1_s32(p32, (int32_t *)out, svmmla_s32(svld1_s32(p32, (const int32_t *)d),
                  svld1_s8(p8, (const int8_t *)n), svld1_s8(p8, (const int8_t *)m)));
        break;
    case UMMLA:
        svst1_u32(p32, (uint32_t *)out, svmmla_u32(svld1_u32(p32, (const uint32_t *)d),
                  svld1_u8(p8, n), svld1_u8(p8, m)));
        break;
    case USMMLA:
        svst1_s32(p32, (int32_t *)out, svusmmla_s32(svld1_s32(p32, (const int32_t *)d),
                  svld1_u8(p8, n), svld1_s8(p8, (const int8_t *)m)));
        break;
    case SDOT:
        svst1_s32(p32, (int32_t *)out, svdot_s32(svld1_s32(p32, (const int32_t *)d),
                  svld1_s8(p8, (const int8_t *)n), svld1_s8(p8, (const int8_t *)m)));
        break;
    case UDOT:
        svst1_u32(p32, (uint32_t *)out, svdot_u32(svld1_u32(p32, (const uint32_t *)d),
                  svld1_u8(p8, n), svld1_u8(p8, m)));
        break;
    case USDOT:
        svst1_s32(p32, (int32_t *)out, svusdot_s32(svld1_s32(p32, (const int32_t *)d),
                  svld1_u8(p8, n), svld1_s8(p8, (const int8_t *)m)));
        break;
    case FMLA: { /* FMLA Zda.S, Pg/M, Zn.S, Zm.S, in asm for a fixed operand order */
        svfloat32_t acc = svld1_f32(p32, (const float *)d), zn = svld1_f32(p32, (const float *)n),
                    zm = svld1_f32(p32, (const float *)m);
        __asm__("fmla %0.s, %1/m, %2.s, %3.s" : "+w"(acc) : "Upl"(p32), "w"(zn), "w"(zm));
        svst1_f32(p32, (float *)out, acc);
        break;
    }
    }
}

static int reply(uint32_t status, uint32_t fpcr, uint32_t vl) {
    uint32_t h[3] = {status, fpcr, vl};
    fwrite(h, sizeof h, 1, stdout);
    fflush(stdout);
    return 0;
}

/* One request; returns 0 at a clean end of input, 1 after a request, -1 on a protocol error. */
static int serve(void) {
    uint32_t h[5];
    size_t got = fread(h, sizeof(uint32_t), 5, stdin);
    if (got == 0)
        return 0;
    if (got != 5)
        return -1;
    uint32_t op = h[0], s = h[1], count = h[2];
    if (op >= N_OPS || s == 0 || (op == BFCVT && s != 1))
        return reply(3, 0, 0), -1;
    if (op == FEATURES) {
        uint64_t words[4] = {getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
        id_registers(&words[2], &words[3]);
        reply(0, (uint32_t)read_fpcr(), 0);
        fwrite(words, sizeof words, 1, stdout);
        fflush(stdout);
        return 1;
    }
    uint32_t missing = h[4] ? missing_features(h[3]) : 0;
    if (missing)
        return reply(5, (uint32_t)read_fpcr(), missing), -1;
    write_fpcr(h[4] ? h[3] : 0); /* 0 is the FPCR Linux gives a new process */
    if (h[4] && (uint32_t)read_fpcr() != h[3])
        return reply(1, (uint32_t)read_fpcr(), 0), -1;
    uint32_t vl = 0;
    if (s > 1) {
        int r = prctl(PR_SVE_SET_VL, 16 * s);
        vl = r < 0 ? 0 : (uint32_t)(r & 0xffff);
        if (vl != 16 * s || svcntb() != 16 * s)
            return reply(2, (uint32_t)read_fpcr(), vl), -1;
    }
    size_t in_size = op == BFCVT ? 16 : 48 * (size_t)s, out_size = op == BFCVT ? 8 : 16 * (size_t)s;
    uint8_t *in = malloc(in_size * CHUNK), *out = malloc(out_size * CHUNK);
    reply(0, (uint32_t)read_fpcr(), vl);
    for (uint32_t done = 0; done < count;) {
        uint32_t k = count - done < CHUNK ? count - done : CHUNK;
        if (fread(in, in_size, k, stdin) != k)
            return free(in), free(out), -1;
        for (uint32_t i = 0; i < k; i++) {
            if (s == 1)
                neon_op(op, in + i * in_size, out + i * out_size);
            else
                sve_op(op, in + i * in_size, out + i * out_size, vl);
        }
        fwrite(out, out_size, k, stdout);
        done += k;
    }
    fflush(stdout);
    free(in);
    free(out);
    return 1;
}

int main(void) {
    int r;
    while ((r = serve()) == 1)
        ;
    return r < 0 ? 4 : 0;
}
