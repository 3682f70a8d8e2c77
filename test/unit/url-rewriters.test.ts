/**
 * shared/url-rewriters.ts: another CDN's URL → the ImageKit path and tr (table), and every
 * parameter without a mapping → 400 EBADTR naming it. Also: the rewritten request is what
 * shared/request.ts hands on (so the one cache key sees it).
 */
import { describe, expect, it } from 'vitest';
import { AccountIndex } from '../../shared/accounts.js';
import { PixmeshError } from '../../shared/errors.js';
import { parseImagePath } from '../../shared/request.js';
import { parseUrlRewriter, rewriteUrl, type UrlRewriter } from '../../shared/url-rewriters.js';

const CLD: UrlRewriter = { type: 'CLOUDINARY', preserveAssetDeliveryTypes: false };
const CLD_KEEP: UrlRewriter = { type: 'CLOUDINARY', preserveAssetDeliveryTypes: true };
const IMGIX: UrlRewriter = { type: 'IMGIX' };
const AKAMAI: UrlRewriter = { type: 'AKAMAI' };
const rw = (r: UrlRewriter, path: string, search = '') => {
  const out = rewriteUrl(r, path.split('/'), search);
  return { path: out.segments.join('/'), tr: out.tr, search: out.search };
};

describe('URL rewriters: foreign URL → ImageKit path + tr', () => {
  it.each<[string, UrlRewriter, string, string, { path: string; tr: string; search?: string }]>([
    ['cloudinary resize + fill', CLD, 'image/upload/w_300,h_200,c_fill/sample.jpg', '', { path: 'sample.jpg', tr: 'w-300,h-200,c-maintain_ratio' }],
    ['cloudinary version dropped, folders kept', CLD, 'image/upload/w_100/v1712345/a/b/c.png', '', { path: 'a/b/c.png', tr: 'w-100' }],
    ['cloudinary no transformation', CLD, 'image/upload/v1/x.jpg', '', { path: 'x.jpg', tr: '' }],
    ['cloudinary preserveAssetDeliveryTypes', CLD_KEEP, 'image/upload/w_50/x.jpg', '', { path: 'image/upload/x.jpg', tr: 'w-50' }],
    ['cloudinary chained steps', CLD, 'image/upload/w_400,c_scale/e_grayscale/x.jpg', '', { path: 'x.jpg', tr: 'w-400,c-force:e-grayscale' }],
    ['cloudinary crop modes', CLD, 'image/upload/w_10,h_10,c_pad,b_rgb:ff0000/x.jpg', '', { path: 'x.jpg', tr: 'w-10,h-10,cm-pad_resize,bg-FF0000' }],
    ['cloudinary fit / limit / mfit', CLD, 'image/upload/c_fit/c_limit/c_mfit/x.jpg', '', { path: 'x.jpg', tr: 'c-at_max_enlarge:c-at_max:c-at_least' }],
    ['cloudinary gravity, quality, format', CLD, 'image/upload/g_face,q_70,f_webp/x.jpg', '', { path: 'x.jpg', tr: 'fo-face,q-70,f-webp' }],
    ['cloudinary q_auto is the account default', CLD, 'image/upload/q_auto,f_auto/x.jpg', '', { path: 'x.jpg', tr: 'f-auto' }],
    ['cloudinary blur 1–2000 → bl 1–100', CLD, 'image/upload/e_blur:400/e_blur/x.jpg', '', { path: 'x.jpg', tr: 'bl-20:bl-5' }],
    ['cloudinary rotate, radius, ratio, dpr', CLD, 'image/upload/a_90,r_max,ar_16:9,dpr_2.0/x.jpg', '', { path: 'x.jpg', tr: 'rt-90,r-max,ar-16-9,dpr-2.0' }],
    ['cloudinary file with an underscore is a file', CLD, 'image/upload/my_photo.jpg', '', { path: 'my_photo.jpg', tr: '' }],
    ['cloudinary delivery query passes', CLD, 'image/upload/w_5/x.jpg', '?ik-attachment=true', { path: 'x.jpg', tr: 'w-5', search: '?ik-attachment=true' }],
    ['imgix resize + crop', IMGIX, 'a/x.jpg', '?w=300&h=200&fit=crop', { path: 'a/x.jpg', tr: 'c-maintain_ratio,h-200,w-300' }],
    ['imgix order does not matter', IMGIX, 'x.jpg', '?fit=crop&h=200&w=300', { path: 'x.jpg', tr: 'c-maintain_ratio,h-200,w-300' }],
    ['imgix fit modes', IMGIX, 'x.jpg', '?w=10&fit=clip', { path: 'x.jpg', tr: 'c-at_max_enlarge,w-10' }],
    ['imgix quality, format, faces', IMGIX, 'x.jpg', '?q=60&fm=webp&crop=faces', { path: 'x.jpg', tr: 'f-webp,fo-face,q-60' }],
    ['imgix auto=format,compress', IMGIX, 'x.jpg', '?auto=format,compress&ixlib=js-3.8.0', { path: 'x.jpg', tr: 'f-auto' }],
    ['imgix blur, rot, bg', IMGIX, 'x.jpg', '?blur=200&rot=90&bg=f00', { path: 'x.jpg', tr: 'bg-FF0000,bl-10,rt-90' }],
    ['imgix signing params pass', IMGIX, 'x.jpg', '?w=5&ik-s=abc&ik-t=99', { path: 'x.jpg', tr: 'w-5', search: '?ik-s=abc&ik-t=99' }],
    ['akamai resize', AKAMAI, 'x.jpg', '?im=Resize,width=300,height=200', { path: 'x.jpg', tr: 'w-300,h-200,c-at_max_enlarge' }],
    ['akamai resize tuple + aspect fill', AKAMAI, 'x.jpg', '?im=Resize=(300,200),aspect=fill', { path: 'x.jpg', tr: 'w-300,h-200,c-maintain_ratio' }],
    ['akamai chain', AKAMAI, 'x.jpg', '?im=Resize,width=100;Quality=50;Grayscale', { path: 'x.jpg', tr: 'w-100:q-50:e-grayscale' }],
    ['akamai crop, imwidth, imformat', AKAMAI, 'x.jpg', '?im=Crop,width=50,height=40,x=5,y=6&imformat=webp', { path: 'x.jpg', tr: 'w-50,h-40,cm-extract,x-5,y-6:f-webp' }],
  ])('%s', (_t, r, path, search, want) => {
    expect(rw(r, path, search)).toEqual({ search: '', ...want });
  });

  it.each<[UrlRewriter, string, string, RegExp]>([
    [CLD, 'image/upload/w_300,l_logo/x.jpg', '', /Cloudinary parameter l_ is not supported/],
    [CLD, 'image/upload/c_imagga_crop/x.jpg', '', /Cloudinary parameter c_: crop mode "imagga_crop"/],
    [CLD, 'image/upload/e_cartoonify/x.jpg', '', /effect "cartoonify"/],
    [CLD, 'image/upload/w_abc/x.jpg', '', /Cloudinary parameter w_: "abc" is not a number/],
    [IMGIX, 'x.jpg', '?w=3&txt=hello', /imgix parameter txt is not supported/],
    [IMGIX, 'x.jpg', '?fit=facearea', /imgix parameter fit: "facearea"/],
    [IMGIX, 'x.jpg', '?tr=w-100', /imgix parameter tr is not supported/],
    [AKAMAI, 'x.jpg', '?im=Composite,image=x', /Akamai im Composite is not supported/],
    [AKAMAI, 'x.jpg', '?im=Resize,depth=3', /argument depth/],
    [AKAMAI, 'x.jpg', '?impolicy=small', /Akamai parameter impolicy is not supported/],
  ])('%j %s%s → 400 EBADTR naming the parameter', (r, path, search, message) => {
    let err: unknown;
    try {
      rw(r, path, search);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PixmeshError);
    expect(err).toMatchObject({ status: 400, code: 'EBADTR' });
    expect((err as Error).message).toMatch(message);
  });

  it.each<[unknown, UrlRewriter | RegExp]>([
    [{ type: 'CLOUDINARY' }, { type: 'CLOUDINARY', preserveAssetDeliveryTypes: false }],
    [{ type: 'CLOUDINARY', preserveAssetDeliveryTypes: true }, { type: 'CLOUDINARY', preserveAssetDeliveryTypes: true }],
    [{ type: 'IMGIX' }, { type: 'IMGIX' }],
    [{ type: 'FASTLY' }, /urlRewriter.type must be one of/],
    [{ type: 'IMGIX', preserveAssetDeliveryTypes: true }, /urlRewriter.preserveAssetDeliveryTypes is not a field of a IMGIX/],
    ['CLOUDINARY', /must be an object/],
  ])('parseUrlRewriter(%j)', (input, want) => {
    const got = parseUrlRewriter(input);
    if (want instanceof RegExp) expect(got).toMatch(want);
    else expect(got).toEqual(want);
  });

  it('an endpoint with a rewriter hands the rewritten path and tr to the parser (the cache key input); other endpoints keep ImageKit syntax', () => {
    const index = AccountIndex.fromJson(
      JSON.stringify({
        accounts: [{ id: 'a', homeRegion: 'eu-central-1', privateKey: 'private_a_0123456789', publicKey: 'public_a', endpoints: [
          { prefix: '', origins: [{ type: 'media' }] },
          { prefix: 'cld', origins: [{ type: 'media' }], urlRewriter: { type: 'CLOUDINARY' } },
        ] }],
      }),
    );
    const account = index.get('a')!;
    expect(parseImagePath(account, '/cld/image/upload/w_120,c_scale/v3/pics/x.jpg', '')).toMatchObject({ path: 'pics/x.jpg', tr: 'w-120,c-force', extraQuery: [] });
    expect(parseImagePath(account, '/tr:w-120,c-force/pics/x.jpg', '')).toMatchObject({ path: 'pics/x.jpg', tr: 'w-120,c-force' });
    expect(() => parseImagePath(account, '/cld/image/upload/l_x/pics/x.jpg', '')).toThrow(/l_ is not supported/);
  });
});
