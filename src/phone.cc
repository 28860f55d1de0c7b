/*
 * phone.cc - libphonenumber behind the C interface of phone.h.
 *
 * This is the project's only C++ file.  It parses, validates, classifies
 * and formats numbers.  libphonenumber's parse runs a dozen regular
 * expressions (tens of microseconds); an OTP flow reads the same number
 * twice within minutes (send, then check), so the answers of recent
 * lookups are kept in a small direct-mapped cache keyed by the input and
 * the region.  The cache holds only libphonenumber's verdicts, which do
 * not change while the process runs.  A mutex guards it (phone_pool.c
 * parses on a worker thread; libphonenumber itself is thread-safe), held
 * only to look up or store an entry, never across a parse.
 *
 * Most numbers come in E.164 ("+14155550123"), and for those Parse() (half
 * the cost of a lookup: it runs its extraction, extension and national
 * prefix expressions) can be skipped: the country code is the one prefix
 * of 1 to 3 digits the library knows, the rest is the national number.
 * Parse() would give something else only when it strips a national prefix
 * from that rest (Mexico's "1" before mobiles, Belarus's "8"), or for a
 * leading zero; so the short way is taken only when the rest starts with
 * no match of the country's national_prefix_for_parsing (read once from
 * libphonenumber's compiled-in metadata), does not start with 0, and turns
 * out valid.  Everything else goes through Parse().  check_util's
 * phone_fast_path compares both ways over every region's example numbers
 * and their neighbours.
 */
#include "config.h"

#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
/* libstdc++ 12's <regex> warns -Wmaybe-uninitialized inside std::function
 * when built at -O1 with sanitizers: a false positive in the header, so
 * silenced for the header's own lines only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <set>
#include <string>
#include <vector>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#ifdef HAVE_PHONE_METADATA
#include <phonenumbers/phonemetadata.pb.h>
namespace i18n { namespace phonenumbers {
/* libphonenumber's serialized metadata (its metadata.h is not installed) */
int metadata_size();
const void *metadata_get();
} }
#endif

#include "phone.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

static enum phone_type
map_type(PhoneNumberUtil::PhoneNumberType t)
{
	switch (t) {
	case PhoneNumberUtil::FIXED_LINE: return PHONE_FIXED_LINE;
	case PhoneNumberUtil::MOBILE: return PHONE_MOBILE;
	case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
		return PHONE_FIXED_LINE_OR_MOBILE;
	case PhoneNumberUtil::TOLL_FREE: return PHONE_TOLL_FREE;
	case PhoneNumberUtil::PREMIUM_RATE: return PHONE_PREMIUM_RATE;
	case PhoneNumberUtil::SHARED_COST: return PHONE_SHARED_COST;
	case PhoneNumberUtil::VOIP: return PHONE_VOIP;
	case PhoneNumberUtil::PERSONAL_NUMBER: return PHONE_PERSONAL_NUMBER;
	case PhoneNumberUtil::PAGER: return PHONE_PAGER;
	case PhoneNumberUtil::UAN: return PHONE_UAN;
	case PhoneNumberUtil::VOICEMAIL: return PHONE_VOICEMAIL;
	default: return PHONE_UNKNOWN;
	}
}

static enum phone_result
phone_normalise_uncached(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type);

namespace {
struct cache_entry {
	std::string key;           /* region '|' number */
	enum phone_result result;
	enum phone_type type;
	char e164[20];
};
const size_t cache_size = 1 << 15;
std::vector<cache_entry> cache;
std::mutex cache_lock;

bool
cache_key(const char *number, const char *region, std::string &key)
{
	if (number == NULL || std::strlen(number) > 64)
		return false;
	key.reserve(72);
	key.append(region && *region ? region : "ZZ").append(1, '|')
	    .append(number);
	return true;
}

cache_entry &
cache_slot(const std::string &key)
{
	if (cache.empty())
		cache.resize(cache_size);
	return cache[std::hash<std::string>()(key) & (cache_size - 1)];
}

/* Copy a verdict out; PHONE_INVALID when out is too small. */
enum phone_result
answer(enum phone_result r, const char *e164, enum phone_type t, char *out,
    size_t outsize, enum phone_type *type)
{
	if (r != PHONE_OK)
		return r;
	if (std::strlen(e164) + 1 > outsize)
		return PHONE_INVALID;
	std::memcpy(out, e164, std::strlen(e164) + 1);
	if (type)
		*type = t;
	return PHONE_OK;
}
}

extern "C" int
phone_cached(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type, enum phone_result *result)
{
	std::string key;

	if (!cache_key(number, region, key)) {
		*result = PHONE_UNPARSABLE;
		return 1;
	}
	std::lock_guard<std::mutex> g(cache_lock);
	cache_entry &e = cache_slot(key);
	if (e.key != key)
		return 0;
	*result = answer(e.result, e.e164, e.type, out, outsize, type);
	return 1;
}

extern "C" enum phone_result
phone_normalise(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type)
{
	std::string key;
	enum phone_type t = PHONE_UNKNOWN;
	enum phone_result r;
	char buf[20];

	if (phone_cached(number, region, out, outsize, type, &r))
		return r;
	if (!cache_key(number, region, key))
		return PHONE_UNPARSABLE;
	r = phone_normalise_uncached(number, region, buf, sizeof(buf), &t);
	if (r != PHONE_OK)
		buf[0] = '\0';
	{
		std::lock_guard<std::mutex> g(cache_lock);
		cache_entry &e = cache_slot(key);
		e.key = key;
		e.result = r;
		e.type = t;
		std::memcpy(e.e164, buf, std::strlen(buf) + 1);
	}
	return answer(r, buf, t, out, outsize, type);
}

/* Type, E.164 and verdict of a parsed number. */
static enum phone_result
classify(const PhoneNumberUtil *util, const PhoneNumber &pn, char *out,
    size_t outsize, enum phone_type *type)
{
	/* IsValidNumber() is GetNumberType() != UNKNOWN underneath: ask once
	 * (the type's regular expressions are the expensive part). */
	PhoneNumberUtil::PhoneNumberType t = util->GetNumberType(pn);
	if (t == PhoneNumberUtil::UNKNOWN)
		return PHONE_INVALID;
	std::string e164;
	util->Format(pn, PhoneNumberUtil::E164, &e164);
	if (e164.size() + 1 > outsize)
		return PHONE_INVALID;
	std::memcpy(out, e164.c_str(), e164.size() + 1);
	if (type)
		*type = map_type(t);
	return PHONE_OK;
}

/* The whole way: Parse(), then classify. */
static enum phone_result
parse_slow(const PhoneNumberUtil *util, const std::string &in,
    const std::string &reg, char *out, size_t outsize, enum phone_type *type)
{
	PhoneNumber pn;

	if (util->Parse(in, reg, &pn) != PhoneNumberUtil::NO_PARSING_ERROR)
		return PHONE_UNPARSABLE;
	return classify(util, pn, out, outsize, type);
}

#ifdef HAVE_PHONE_METADATA
namespace {
/* A country code's national prefixes for parsing, as expressions; slow
 * when one of them is not an expression std::regex reads (the metadata
 * is written for ICU's): that country's numbers all go through Parse(). */
struct prefixes {
	bool slow = false;
	std::vector<std::regex> res;
};
typedef std::map<int, prefixes> prefix_map;

prefix_map *
national_prefixes()
{
	static prefix_map *m = [] {
		i18n::phonenumbers::PhoneMetadataCollection c;
		if (!c.ParseFromArray(i18n::phonenumbers::metadata_get(),
		    i18n::phonenumbers::metadata_size()))
			return (prefix_map *)NULL;
		auto *p = new prefix_map;
		for (const auto &md : c.metadata()) {
			const std::string &np =
			    md.has_national_prefix_for_parsing() ?
			    md.national_prefix_for_parsing() :
			    md.national_prefix();
			if (np.empty())
				continue;
			prefixes &e = (*p)[md.country_code()];
			try {
				e.res.emplace_back(np, std::regex::ECMAScript |
				    std::regex::optimize);
			} catch (const std::regex_error &) {
				e.slow = true;
			}
		}
		return p;
	}();
	return m;
}
}

/* The short way for "+" and digits (see the top of the file): 1 with the
 * verdict in *r, 0 when Parse() must decide. */
static int
parse_fast(const PhoneNumberUtil *util, const std::string &in, char *out,
    size_t outsize, enum phone_type *type, enum phone_result *r)
{
	prefix_map *np = national_prefixes();
	size_t n = in.size(), i;
	int cc = 0;

	if (np == NULL || n < 4 || n > 18 || in[0] != '+')
		return 0;
	for (i = 1; i < n; i++)
		if (in[i] < '0' || in[i] > '9')
			return 0;
	for (i = 1; i <= 3; i++) {
		std::string rc;
		cc = cc * 10 + (in[i] - '0');
		util->GetRegionCodeForCountryCode(cc, &rc);
		if (rc != "ZZ")
			break;
	}
	if (i > 3 || i + 1 >= n || in[i + 1] == '0')
		return 0;
	std::string nat = in.substr(i + 1);
	auto it = np->find(cc);
	if (it != np->end()) {
		if (it->second.slow)
			return 0;
		try {
			for (const std::regex &re : it->second.res)
				if (std::regex_search(nat, re,
				    std::regex_constants::match_continuous))
					return 0;
		} catch (const std::regex_error &) {
			return 0;
		}
	}
	PhoneNumber pn;
	pn.set_country_code(cc);
	pn.set_national_number(std::strtoull(nat.c_str(), NULL, 10));
	*r = classify(util, pn, out, outsize, type);
	return *r == PHONE_OK;
}
#endif

/* The input as Parse() gets it, or false when it is none. */
static bool
prepare(const char *number, const char *region, std::string &in,
    std::string &reg)
{
	in.assign(number ? number : "");
	reg.assign(region && *region ? region : "ZZ");
	if (in.empty() || in.size() > 64)
		return false;
	/* Leading blanks (a form's '+' decodes to a space) say nothing. */
	in.erase(0, in.find_first_not_of(" \t"));
	if (in.empty())
		return false;
	/* Without a region: read as international even without the '+'
	 * ("00" stands for it), like the hosted APIs do when no country is
	 * given. */
	if (reg == "ZZ" && in[0] != '+') {
		if (in.compare(0, 2, "00") == 0)
			in = "+" + in.substr(2);
		else
			in = "+" + in;
	}
	return true;
}

static enum phone_result
phone_normalise_uncached(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type)
{
	const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
	std::string in, reg;

	if (!prepare(number, region, in, reg))
		return PHONE_UNPARSABLE;
#ifdef HAVE_PHONE_METADATA
	enum phone_result r;
	if (parse_fast(util, in, out, outsize, type, &r))
		return r;
#endif
	return parse_slow(util, in, reg, out, outsize, type);
}

extern "C" enum phone_result
phone_normalise_slow(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type)
{
	std::string in, reg;

	if (!prepare(number, region, in, reg))
		return PHONE_UNPARSABLE;
	return parse_slow(PhoneNumberUtil::GetInstance(), in, reg, out,
	    outsize, type);
}

extern "C" int
phone_example_numbers(char ***out)
{
	const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
	std::set<std::string> regions;
	std::vector<std::string> all;

	util->GetSupportedRegions(&regions);
	for (const std::string &r : regions)
		for (int t = PhoneNumberUtil::FIXED_LINE;
		    t <= PhoneNumberUtil::VOICEMAIL; t++) {
			PhoneNumber pn;
			std::string s;
			if (!util->GetExampleNumberForType(r,
			    (PhoneNumberUtil::PhoneNumberType)t, &pn))
				continue;
			util->Format(pn, PhoneNumberUtil::E164, &s);
			all.push_back(s);
		}
	*out = (char **)std::calloc(all.size() + 1, sizeof(char *));
	if (*out == NULL)
		return -1;
	for (size_t i = 0; i < all.size(); i++)
		(*out)[i] = strdup(all[i].c_str());
	return (int)all.size();
}

extern "C" const char *
phone_strtype(enum phone_type t)
{
	static const char *const names[] = {
		"fixed_line", "mobile", "fixed_line_or_mobile", "toll_free",
		"premium_rate", "shared_cost", "voip", "personal_number",
		"pager", "uan", "voicemail", "unknown",
	};
	if ((unsigned)t > PHONE_UNKNOWN)
		return "unknown";
	return names[t];
}

extern "C" int
phone_type_by_name(const char *name)
{
	for (int t = PHONE_FIXED_LINE; t < PHONE_UNKNOWN; t++)
		if (name != NULL && std::strcmp(name,
		    phone_strtype((enum phone_type)t)) == 0)
			return t;
	return -1;
}

extern "C" int
phone_region_valid(const char *region)
{
	if (region == NULL)
		return 0;
	/* IsValidRegionCode is private: a region is known when it has a
	 * country calling code. */
	return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(
	    region) != 0 ? 1 : 0;
}

extern "C" int
phone_national(const char *e164, char *out, size_t outsize)
{
	const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
	PhoneNumber pn;
	std::string s;

	if (util->Parse(e164, "ZZ", &pn) != PhoneNumberUtil::NO_PARSING_ERROR)
		return -1;
	util->Format(pn, PhoneNumberUtil::NATIONAL, &s);
	std::string digits;
	for (char c : s)
		if (c >= '0' && c <= '9')
			digits += c;
	if (digits.size() + 1 > outsize)
		return -1;
	std::memcpy(out, digits.c_str(), digits.size() + 1);
	return 0;
}

/* The region of a valid E.164 number.  A country calling code used by
 * one region answers at once (most of them); a shared one (+1, +7, +44,
 * ...) needs the number's own patterns, which is libphonenumber's
 * GetRegionCodeForNumber: a few regular expressions per region sharing
 * the code. */
extern "C" int
phone_region(const char *e164, char *out, size_t outsize)
{
	const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
	std::list<std::string> regions;
	std::string rc;
	PhoneNumber pn;
	int cc = 0;

	if (e164 == NULL || e164[0] != '+')
		return -1;
	for (int i = 1; i <= 3 && e164[i] >= '0' && e164[i] <= '9'; i++) {
		cc = cc * 10 + (e164[i] - '0');
		regions.clear();
		util->GetRegionCodesForCountryCallingCode(cc, &regions);
		if (!regions.empty())
			break;
	}
	if (regions.size() == 1) {
		rc = regions.front();
	} else if (!regions.empty()) {
		if (util->Parse(e164, "ZZ", &pn) !=
		    PhoneNumberUtil::NO_PARSING_ERROR)
			return -1;
		util->GetRegionCodeForNumber(pn, &rc);
	}
	if (rc.empty() || rc == "ZZ" || rc.size() + 1 > outsize)
		return -1;
	std::memcpy(out, rc.c_str(), rc.size() + 1);
	return 0;
}
