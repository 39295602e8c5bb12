// Media thumbnails and the in-page preview, shared by the media, approvals and
// playlist pages.
import { fmtDuration, t } from './i18n.js';
import { h } from './dom.js';
import { dialog } from './notices.js';

export function thumb(m, size = 'sm') {
  const cls = `ms-thumb ms-thumb-${size}`;
  // An animated GIF plays as a clip on screens; its original is still a picture.
  if (m.kind === 'image' || (m.mime || '').startsWith('image/')) {
    return h('img', { class: cls, src: m.contentUrl, alt: m.name, loading: 'lazy', decoding: 'async' });
  }
  if (m.kind === 'video') {
    // The first frame as a poster; no download beyond the metadata until played.
    return h(
      'div',
      { class: `${cls} ms-thumb-video` },
      h('video', {
        src: `${m.contentUrl}#t=0.5`,
        preload: 'metadata',
        muted: true,
        playsinline: true,
        'aria-hidden': 'true',
        tabindex: '-1',
      }),
      h('span', { class: 'ms-thumb-play', 'aria-hidden': 'true' }, '▶'),
      m.durationMs ? h('span', { class: 'ms-thumb-duration' }, fmtDuration(m.durationMs)) : null,
    );
  }
  if (m.kind === 'text' && m.slogan) {
    const st = m.slogan.style || {};
    const el = h('div', { class: `${cls} ms-thumb-text` }, m.slogan.text);
    el.style.color = st.color || '#ffd700';
    el.style.background = st.background || '#000';
    return el;
  }
  return h('div', { class: `${cls} ms-thumb-other` }, t(`kind.${m.kind}`));
}

export function kindLabel(m) {
  const parts = [t(`kind.${m.kind}`)];
  if (m.width && m.height) parts.push(`${m.width}×${m.height}`);
  if (m.durationMs) parts.push(fmtDuration(m.durationMs));
  return parts.join(' · ');
}

// Opens the in-page preview: videos play with controls, images show full size.
export function preview(m) {
  let body;
  if ((m.mime || '').startsWith('image/')) {
    body = h('img', { class: 'ms-preview-media', src: m.contentUrl, alt: m.name });
  } else if (m.kind === 'video') {
    body = h('video', {
      class: 'ms-preview-media',
      src: m.contentUrl,
      controls: true,
      autoplay: true,
      muted: true,
      playsinline: true,
      'aria-label': m.name,
    });
  } else if (m.kind === 'audio') {
    body = h('audio', { src: m.contentUrl, controls: true, autoplay: true, 'aria-label': m.name });
  } else if (m.kind === 'image') {
    body = h('img', { class: 'ms-preview-media', src: m.contentUrl, alt: m.name });
  } else {
    body = thumb(m, 'lg');
  }
  return dialog(
    'media.previewTitle',
    h(
      'div',
      { class: 'ms-preview' },
      h(
        'p',
        { class: 'fw-semibold mb-2' },
        m.name,
        h('span', { class: 'text-body-secondary ms-2 small' }, kindLabel(m)),
      ),
      body,
      derivedList(m),
    ),
    [{ key: 'common.close', value: 'cancel', class: 'btn-primary' }],
  );
}

// What screens play instead of the original (the original is what was approved):
// the normalised still and the renditions per screen size, with their state.
export function derivedList(m) {
  const list = m.derived || [];
  if (!list.length) return h('p', { class: 'small text-body-secondary mt-2 ms-derived-none' }, t('media.derivedNone'));
  return h(
    'div',
    { class: 'mt-2 ms-derived' },
    h('p', { class: 'small fw-semibold mb-1' }, t('media.derivedTitle')),
    h(
      'ul',
      { class: 'list-unstyled small mb-0' },
      ...list.map((d) =>
        h(
          'li',
          { class: 'ms-derived-item', dataset: { purpose: d.purpose, state: d.state } },
          h(
            'span',
            { class: 'me-2' },
            d.purpose === 'rendition'
              ? t('media.rendition', { size: `${d.boxWidth}×${d.boxHeight}` })
              : t('media.normalised'),
          ),
          h(
            'span',
            {
              class: `badge me-2 ${d.state === 'ready' ? 'text-bg-success' : d.state === 'failed' ? 'text-bg-danger' : 'text-bg-secondary'}`,
            },
            t(`derived.${d.state}`),
          ),
          d.width && d.height ? h('span', { class: 'me-2' }, `${d.width}×${d.height}`) : null,
          d.contentUrl
            ? h('a', { href: d.contentUrl, target: '_blank', rel: 'noopener', class: 'me-2' }, t('media.derivedOpen'))
            : null,
          h('span', { class: 'text-body-secondary' }, d.state === 'failed' ? d.error || '' : d.transform || ''),
        ),
      ),
    ),
  );
}

// The thumbnail as a button that opens the preview.
export function thumbButton(m, size) {
  return h(
    'button',
    {
      class: 'ms-thumb-button',
      type: 'button',
      onclick: () => preview(m),
      'aria-label': t('media.previewOf', { name: m.name }),
    },
    thumb(m, size),
  );
}
