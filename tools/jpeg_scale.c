/*
 * How fast libjpeg-turbo decodes JPEG tiles at a DCT scale of 1/DENOM, on one core, without Java in the way.
 * The yardstick for Canopy's TurboJPEG path (docs/benchmarks.md, "JPEG decoding scaled in the DCT domain").
 *   gcc -O2 tools/jpeg_scale.c -o /tmp/jpeg_scale -ljpeg        (needs libjpeg62-turbo-dev)
 *   for d in 1 2 8; do /tmp/jpeg_scale $d $(ls canopy-data/bench/infer-survey-8000-512/tiles/*.jpg | head -200); done
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jpeglib.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  int denom=atoi(argv[1]); int nf=argc-2; unsigned char**buf=malloc(nf*sizeof(void*)); long*len=malloc(nf*sizeof(long));
  for(int i=0;i<nf;i++){FILE*f=fopen(argv[i+2],"rb");fseek(f,0,SEEK_END);len[i]=ftell(f);rewind(f);buf[i]=malloc(len[i]);fread(buf[i],1,len[i],f);fclose(f);}
  unsigned char*row=malloc(3*4096);
  double t0=now(); long n=0; int ow=0;
  while(now()-t0<2){ for(int i=0;i<nf;i++){
    struct jpeg_decompress_struct c; struct jpeg_error_mgr e; c.err=jpeg_std_error(&e); jpeg_create_decompress(&c);
    jpeg_mem_src(&c,buf[i],len[i]); jpeg_read_header(&c,TRUE); c.scale_num=1;c.scale_denom=denom; c.dct_method=JDCT_ISLOW;
    jpeg_start_decompress(&c); ow=c.output_width; JSAMPROW r=row; while(c.output_scanline<c.output_height) jpeg_read_scanlines(&c,&r,1);
    jpeg_finish_decompress(&c); jpeg_destroy_decompress(&c); n++; } }
  double dt=now()-t0; printf("denom %d -> %d px: %.0f img/s one core, %.3f ms\n",denom,ow,n/dt,dt/n*1000); }
