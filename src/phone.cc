/*
 * phone.cc - libphonenumber behind the C interface of phone.h.
 *
 * This is the project's only C++ file.  It parses, validates, classifies
 * and formats numbers.  libphonenumber's parse runs a dozen regular
 * expressions (tens of microseconds); an OTP flow reads the same number
 * twice within minutes (send, then check), so the answers of recent
 * lookups are kept in a small direct-mapped cache keyed by the input and
 * the region.  The cache holds only libphonenumber's verdicts, which do
 * not change while the process runs.  Loop thread only, like the rest.
 */
#include <cstring>
#include <string>
#include <vector>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

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
}

extern "C" enum phone_result
phone_normalise(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type)
{
	std::string key;
	enum phone_type t = PHONE_UNKNOWN;
	enum phone_result r;

	if (number == NULL || std::strlen(number) > 64)
		return PHONE_UNPARSABLE;
	key.reserve(72);
	key.append(region && *region ? region : "ZZ").append(1, '|')
	    .append(number);
	if (cache.empty())
		cache.resize(cache_size);
	cache_entry &e = cache[std::hash<std::string>()(key) &
	    (cache_size - 1)];
	if (e.key == key) {
		if (e.result == PHONE_OK) {
			if (std::strlen(e.e164) + 1 > outsize)
				return PHONE_INVALID;
			std::memcpy(out, e.e164, std::strlen(e.e164) + 1);
			if (type)
				*type = e.type;
		}
		return e.result;
	}
	char buf[20];
	r = phone_normalise_uncached(number, region, buf, sizeof(buf), &t);
	e.key = key;
	e.result = r;
	e.type = t;
	std::memcpy(e.e164, r == PHONE_OK ? buf : "", r == PHONE_OK ?
	    std::strlen(buf) + 1 : 1);
	if (r == PHONE_OK) {
		if (std::strlen(buf) + 1 > outsize)
			return PHONE_INVALID;
		std::memcpy(out, buf, std::strlen(buf) + 1);
		if (type)
			*type = t;
	}
	return r;
}

static enum phone_result
phone_normalise_uncached(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type)
{
	const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
	PhoneNumber pn;
	std::string in(number ? number : "");
	std::string reg(region && *region ? region : "ZZ");

	if (in.empty() || in.size() > 64)
		return PHONE_UNPARSABLE;
	/* Digits only and long enough to hold a country code: read as
	 * international even without the '+', like the hosted APIs do when
	 * no country is given. */
	if (reg == "ZZ" && in[0] != '+') {
		if (in.compare(0, 2, "00") == 0)
			in = "+" + in.substr(2);
		else
			in = "+" + in;
	}
	if (util->Parse(in, reg, &pn) != PhoneNumberUtil::NO_PARSING_ERROR)
		return PHONE_UNPARSABLE;
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
