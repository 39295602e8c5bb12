#include "cap_signature.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/keys.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <mutex>

#include "cap_xml.hpp"

namespace microscape::controller::cap {

namespace {

constexpr const char* kDsigNs = "http://www.w3.org/2000/09/xmldsig#";

Status initXmlsecOnce() {
    static std::once_flag once;
    static std::string failure;
    std::call_once(once, [] {
        xml::initOnce();
        xmlSecErrorsDefaultCallbackEnableOutput(0);  // refusals are values, not stderr lines
        if (xmlSecInit() < 0)
            failure = "xmlSecInit failed";
        else if (xmlSecCheckVersion() != 1)
            failure = "libxmlsec1 version mismatch";
        else if (xmlSecCryptoAppInit(nullptr) < 0)
            failure = "xmlSecCryptoAppInit failed";
        else if (xmlSecCryptoInit() < 0)
            failure = "xmlSecCryptoInit failed";
    });
    if (!failure.empty()) return makeError(Errc::Internal, "XML signatures unavailable: " + failure);
    return {};
}

// Any trusted PEM (certificate or public key) as a SubjectPublicKeyInfo PEM.
Result<std::string> publicKeyPem(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    EVP_PKEY* raw = nullptr;
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string::npos) {
        std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr),
                                                         X509_free);
        if (cert) raw = X509_get_pubkey(cert.get());
    } else {
        raw = PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr);
    }
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
    if (!key) return makeError(Errc::BadKey, "not a PEM certificate or public key");
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    if (!PEM_write_bio_PUBKEY(out.get(), key.get())) return makeError(Errc::BadKey, "cannot re-encode the key");
    char* data = nullptr;
    const long n = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

struct DsigCtxFree {
    void operator()(xmlSecDSigCtx* c) const { xmlSecDSigCtxDestroy(c); }
};

bool enableAll(xmlSecDSigCtx* ctx) {
    // In <Reference>: the enveloped-signature transform, canonicalisation, SHA-256.
    for (auto id : {xmlSecTransformEnvelopedId, xmlSecTransformInclC14NId, xmlSecTransformInclC14NWithCommentsId,
                    xmlSecTransformInclC14N11Id, xmlSecTransformInclC14N11WithCommentsId, xmlSecTransformExclC14NId,
                    xmlSecTransformExclC14NWithCommentsId, xmlSecTransformSha256Id})
        if (xmlSecDSigCtxEnableReferenceTransform(ctx, id) < 0) return false;
    // In <SignedInfo>: canonicalisation and RSA-SHA256.
    for (auto id : {xmlSecTransformInclC14NId, xmlSecTransformInclC14NWithCommentsId, xmlSecTransformInclC14N11Id,
                    xmlSecTransformInclC14N11WithCommentsId, xmlSecTransformExclC14NId,
                    xmlSecTransformExclC14NWithCommentsId, xmlSecTransformRsaSha256Id})
        if (xmlSecDSigCtxEnableSignatureTransform(ctx, id) < 0) return false;
    return true;
}

}  // namespace

struct SignatureVerifier::Keys {
    std::vector<xmlSecKeyPtr> keys;
    ~Keys() {
        for (auto* k : keys) xmlSecKeyDestroy(k);
    }
};

SignatureVerifier::SignatureVerifier(std::unique_ptr<Keys> keys) : keys_(std::move(keys)) {}
SignatureVerifier::~SignatureVerifier() = default;

std::size_t SignatureVerifier::keyCount() const {
    return keys_->keys.size();
}

Result<std::unique_ptr<SignatureVerifier>> SignatureVerifier::create(const std::vector<std::string>& pems) {
    MS_TRY(initXmlsecOnce());
    auto keys = std::make_unique<Keys>();
    for (std::size_t i = 0; i < pems.size(); ++i) {
        auto pub = publicKeyPem(pems[i]);
        if (!pub) return makeError(Errc::BadKey, "trusted key " + std::to_string(i + 1) + ": " + pub.error().message);
        xmlSecKeyPtr k = xmlSecCryptoAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(pub->data()),
                                                      static_cast<xmlSecSize>(pub->size()), xmlSecKeyDataFormatPem,
                                                      nullptr, nullptr, nullptr);
        if (!k) return makeError(Errc::BadKey, "trusted key " + std::to_string(i + 1) + ": xmlsec cannot load it");
        keys->keys.push_back(k);
    }
    return std::unique_ptr<SignatureVerifier>(new SignatureVerifier(std::move(keys)));
}

Parsed<std::size_t> SignatureVerifier::verify(std::string_view bytes, std::size_t maxBytes) const {
    if (auto st = initXmlsecOnce(); !st) return Problem{"internal", st.error().message};
    auto doc = xml::parseHardened(bytes, maxBytes, "alert");
    if (!doc) return doc.problem();
    xmlNode* root = xmlDocGetRootElement(doc->get());
    if (!root) return Problem{"not_xml", "the alert has no root element"};
    // Exactly one Signature in the whole document, and it is a child of <alert>.
    int count = 0;
    xmlNode* signature = nullptr;
    std::vector<xmlNode*> stack{root};
    while (!stack.empty()) {
        xmlNode* n = stack.back();
        stack.pop_back();
        for (xmlNode* c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE) continue;
            if (xmlSecCheckNodeName(c, xmlSecNodeSignature, xmlSecDSigNs)) {
                ++count;
                signature = c;
            }
            stack.push_back(c);
        }
    }
    if (count == 0) return Problem{"unsigned", "the alert carries no XML-DSig <Signature> (CAP 1.2 §3.3.2.1)"};
    if (count > 1) return Problem{"bad_signature", "the alert carries more than one <Signature>"};
    if (signature->parent != root)
        return Problem{"bad_signature", "the <Signature> is not an enveloped signature directly under <alert>"};
    (void)kDsigNs;
    std::string lastReason = "it verifies under none of the trusted keys";
    for (std::size_t i = 0; i < keys_->keys.size(); ++i) {
        std::unique_ptr<xmlSecDSigCtx, DsigCtxFree> ctx(xmlSecDSigCtxCreate(nullptr));
        if (!ctx || !enableAll(ctx.get())) return Problem{"internal", "cannot set up XML signature verification"};
        ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;  // URI="": the whole document, nothing fetched
        ctx->flags |= XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
        ctx->signKey = xmlSecKeyDuplicate(keys_->keys[i]);
        if (!ctx->signKey) return Problem{"internal", "cannot copy a trusted key"};
        if (xmlSecDSigCtxVerify(ctx.get(), signature) < 0) {
            lastReason =
                "the <Signature> is malformed or uses a reference, transform or algorithm that is not "
                "allowed (URI=\"\", enveloped-signature, C14N, SHA-256, RSA-SHA256)";
            continue;
        }
        if (ctx->status != xmlSecDSigStatusSucceeded) continue;
        if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) {
            lastReason = "the signature has more than one <Reference>";
            continue;
        }
        auto* ref = static_cast<xmlSecDSigReferenceCtx*>(xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0));
        if (!ref || (ref->uri && ref->uri[0] != '\0')) {
            lastReason = "the signature's <Reference> is not the whole document (URI=\"\")";
            continue;
        }
        return i;
    }
    return Problem{"bad_signature", "the alert's signature does not verify: " + lastReason};
}

}  // namespace microscape::controller::cap
